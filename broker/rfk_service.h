/*  rfk_service.h: a worker's side of admin's `service` socket.

    Every dynamic service (advisor, trainer, predictor, inference worker)
    reports its state to admin with StatusReport over its rfk_client; admin
    acknowledges each report. This is that one exchange, so the actors do
    not each carry a copy.
*/
#ifndef RFK_SERVICE_H_INCLUDED
#define RFK_SERVICE_H_INCLUDED

#include "rfk_client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sends StatusReport {service_id, status, message (may be NULL)} to admin;
   an Error answer is logged when it arrives. Returns 0, or -1 when the
   report could not be queued (logged too). */
int
rfk_service_report (rfk_client_t *admin, const char *service_id, const char *status,
                    const char *message);

#ifdef __cplusplus
}
#endif

#endif
