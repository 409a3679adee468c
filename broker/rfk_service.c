/*  rfk_service.c: StatusReport from a service to admin (see rfk_service.h). */
#include "rfk_service.h"

#include "rfk_msg.h"

/* Admin's answer to a report: an Ack, or an Error worth a warning. */
static void
s_on_ack (rfk_client_t *client, uint64_t correlation, rfk_msg_t **reply_p, void *arg)
{
    (void)client;
    (void)correlation;
    (void)arg;
    rfk_msg_t *reply = *reply_p;
    if (rfk_msg_is (reply, "Error"))
        zsys_warning ("service: admin-refused message=\"%s\"",
                      json_string_value (json_object_get (reply->body, "message")));
}

int
rfk_service_report (rfk_client_t *admin, const char *service_id, const char *status,
                    const char *message)
{
    if (!admin || !service_id || !status)
        return -1;
    rfk_msg_t *msg = rfk_msg_new (&rfk_service_family, "StatusReport", 0);
    if (!msg)
        return -1;
    json_object_set_new (msg->body, "service_id", json_string (service_id));
    json_object_set_new (msg->body, "status", json_string (status));
    if (message)
        json_object_set_new (msg->body, "message", json_string (message));
    int rc = rfk_client_send (admin, msg, s_on_ack, NULL) ? 0 : -1;
    if (rc != 0)
        zsys_warning ("service: admin-send-failed error=\"%s\"", rfk_client_error (admin, NULL));
    rfk_msg_destroy (&msg);
    return rc;
}
