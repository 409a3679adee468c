/*  rfk_envelope.h: sending and receiving decoded envelopes on czmq sockets.

    Every message on the bus is one envelope frame, laid out by socket type:
    - DEALER (and PAIR): [envelope]
    - ROUTER:            [routing id][envelope]
    - PUB/SUB:           [topic][envelope], topics such as job.<id>, trial.<id>

    Sends encode through the message's family codec and refuse a frame over the
    size cap; they never block (a full queue is an error the caller answers,
    e.g. with UNAVAILABLE). Receives take the family to decode with and the
    size cap; a frame that is over the cap or not an envelope of that family is
    reported with a code (TOO_LARGE, MALFORMED) so the caller can answer it.
    Receives block as the socket's receive timeout says: call them when the
    socket is readable, or set a receive timeout.
*/
#ifndef RFK_ENVELOPE_H_INCLUDED
#define RFK_ENVELOPE_H_INCLUDED

#include <czmq.h>

#include "rfk_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Encodes msg into one frame of at most max_size bytes. 0, or -1 with
   *code_p set to TOO_LARGE (over the cap) or BAD_REQUEST (the codec refused a
   field) and the reason in err (err may be NULL). */
int
rfk_envelope_encode (const rfk_msg_t *msg, size_t max_size, zframe_t **frame_p, rfk_code_t *code_p,
                     char *err, size_t errlen);

/* Decodes one frame with family's codec. 0; -2 with *code_p set to TOO_LARGE
   when the frame is over max_size, MALFORMED when it is not an envelope of
   this family. The frame stays the caller's. */
int
rfk_envelope_decode (const rfk_family_t *family, zframe_t *frame, size_t max_size,
                     rfk_msg_t **msg_p, rfk_code_t *code_p);

/* Sends [envelope] on a DEALER. 0, or -1 (not encodable, over the cap, queue
   full, socket closed). */
int
rfk_envelope_send (zsock_t *sock, const rfk_msg_t *msg, size_t max_size);
/* Sends [routing id][envelope] on a ROUTER. 0 or -1. */
int
rfk_envelope_send_to (zsock_t *sock, zframe_t *routing_id, const rfk_msg_t *msg, size_t max_size);
/* Sends [topic][envelope] on a PUB or XPUB. 0 or -1. */
int
rfk_envelope_publish (zsock_t *sock, const char *topic, const rfk_msg_t *msg, size_t max_size);
/* Sends an already encoded envelope frame, without waiting; the frame is
   consumed on success only. */
int
rfk_envelope_send_frame (zsock_t *sock, zframe_t *routing_id, zframe_t **frame_p);

/* Receives [envelope] on a DEALER. 0; -1 when nothing came (interrupted,
   receive timeout); -2 for a bad frame, with its code in *code_p (MALFORMED
   also for a message of more than one frame). */
int
rfk_envelope_recv (zsock_t *sock, const rfk_family_t *family, size_t max_size, rfk_msg_t **msg_p,
                   rfk_code_t *code_p);
/* Receives [routing id][envelope] on a ROUTER. 0 with the sender's routing id
   in *routing_id_p; -1 when nothing came or the layout was wrong (no routing
   id, or only a routing id: nobody to answer, dropped silently); -2 for a bad
   envelope (or extra frames), with *routing_id_p set so the caller can answer
   it and *code_p saying what was wrong. */
int
rfk_envelope_recv_from (zsock_t *sock, const rfk_family_t *family, size_t max_size,
                        zframe_t **routing_id_p, rfk_msg_t **msg_p, rfk_code_t *code_p);
/* Receives [topic][envelope] on a SUB or XSUB. 0 with the topic in *topic_p
   (yours to free); -1 when nothing came; -2 for a bad message (code in
   *code_p; *topic_p set when there was a topic). */
int
rfk_envelope_recv_topic (zsock_t *sock, const rfk_family_t *family, size_t max_size, char **topic_p,
                         rfk_msg_t **msg_p, rfk_code_t *code_p);

/* The topic of events about a job or a trial: "job.<id>", "trial.<id>".
   Yours to free; NULL if id is NULL or empty. */
char *
rfk_topic_job (const char *id);
char *
rfk_topic_trial (const char *id);

/* The code of an Error message (RFK_CODE_INTERNAL when the code is missing or
   unknown), or RFK_CODE_OK when msg is not an Error. */
rfk_code_t
rfk_envelope_error_code (const rfk_msg_t *msg);

#ifdef __cplusplus
}
#endif

#endif
