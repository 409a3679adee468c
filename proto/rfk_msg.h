/*  rfk_msg.h: a decoded envelope of any message family, and the family table.

    Every message on the bus is one protobuf-c Envelope per frame. Each family
    (admin, service, train, infer, event) has one .proto file and one codec
    module, the only code that includes its generated .pb-c.h. A codec turns a
    frame into an rfk_msg_t and back:

    - kind and type name the Envelope's body (the oneof case and the body's
      message name, e.g. "Hello");
    - body holds the body message's fields as a JSON object whose keys are the
      .proto field names (enums as their value names, 64-bit integers as
      numbers, nested messages as objects, repeated fields as arrays), so one
      set of handlers serves the ZeroMQ and HTTP fronts alike;
    - data holds the body's `bytes data` field, when it has one: queries,
      predictions, parameters and upload chunks are msgpack or raw bytes and
      never go through JSON.

    Every family's Envelope has the bodies Error {code, message} and
    Heartbeat {}, so the bus can answer and ping any family the same way.
*/
#ifndef RFK_MSG_H_INCLUDED
#define RFK_MSG_H_INCLUDED

#include <czmq.h>
#include <jansson.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes carried by Error {code, message}; the .proto enum Code has the
   same numbers and names. */
typedef enum {
    RFK_CODE_OK = 0,
    RFK_CODE_BAD_REQUEST = 1,     /* a field is missing or wrong: HTTP 400 */
    RFK_CODE_UNAUTHORIZED = 2,    /* no token, bad or expired token: 401 */
    RFK_CODE_FORBIDDEN = 3,       /* role or ownership: 403 */
    RFK_CODE_NOT_FOUND = 4,       /* unknown id: 404 */
    RFK_CODE_CONFLICT = 5,        /* duplicate or conflicting state: 409 */
    RFK_CODE_TOO_LARGE = 6,       /* over a configured cap: 413 */
    RFK_CODE_UNAVAILABLE = 7,     /* overloaded or a backend is down: 503 */
    RFK_CODE_MALFORMED = 8,       /* a frame that is not an envelope: 400 */
    RFK_CODE_UNKNOWN_MESSAGE = 9, /* a body this peer does not take: 400 */
    RFK_CODE_TIMEOUT = 10,        /* a deadline passed: 504 */
    RFK_CODE_INTERNAL = 11,       /* our fault, never the caller's: 500 */
    RFK_CODE_RATE_LIMITED = 12    /* too many tries or too much held at once: 429 */
} rfk_code_t;

/* The code's name as in the API ("NOT_FOUND"), and back (-1 if unknown). */
const char *
rfk_code_name (rfk_code_t code);
int
rfk_code_from_name (const char *name);
/* The HTTP status a code is answered with. */
int
rfk_code_http_status (rfk_code_t code);

typedef struct rfk_family rfk_family_t;

typedef struct {
    const rfk_family_t *family; /* which family the message belongs to */
    int kind;                   /* oneof case of the Envelope body */
    const char *type;           /* body message name, static */
    uint64_t correlation;       /* request id / correlation id; 0 if none */
    char *token;                /* the caller's token (admin requests), or NULL */
    json_t *body;               /* the body's fields; never NULL once made */
    zchunk_t *data;             /* the body's `bytes data` field, or NULL */
} rfk_msg_t;

/* A family: its name and codec. decode returns 0, -1 for a NULL frame or one
   over max_size bytes, -2 for a malformed frame (not an envelope, no body, a
   body this family does not know). encode returns 0 or -1 when a field of
   the body is unknown or of the wrong type (message in err). */
struct rfk_family {
    const char *name;
    int (*decode) (zframe_t *frame, size_t max_size, rfk_msg_t **msg_p);
    int (*encode) (const rfk_msg_t *msg, zframe_t **frame_p, char *err, size_t errlen);
    /* The kind of a body type by name, or -1 if the family has none. */
    int (*kind_of) (const char *type);
    /* The body type of a kind (static), or NULL if the family has none. */
    const char *(*type_of) (int kind);
};

extern const rfk_family_t rfk_admin_family;
extern const rfk_family_t rfk_service_family;
extern const rfk_family_t rfk_train_family;
extern const rfk_family_t rfk_infer_family;
extern const rfk_family_t rfk_event_family;

/* A new message of `type` with an empty body; NULL if the family has no such
   type. */
rfk_msg_t *
rfk_msg_new (const rfk_family_t *family, const char *type, uint64_t correlation);
/* An Error message for the given correlation id. */
rfk_msg_t *
rfk_msg_new_error (const rfk_family_t *family, uint64_t correlation, rfk_code_t code,
                   const char *message);
void
rfk_msg_destroy (rfk_msg_t **self_p);
/* True when the message is of body type `type`. */
bool
rfk_msg_is (const rfk_msg_t *self, const char *type);

/* A message of `type` whose body is a copy of `body` (an object, or NULL for
   an empty body), checked against the body's schema: unknown fields and
   wrong types are refused with a message naming the field in err. Returns
   NULL on error (err says why). This is how JSON from users (the HTTP front,
   manifests) becomes a message. */
rfk_msg_t *
rfk_msg_new_from_json (const rfk_family_t *family, const char *type, uint64_t correlation,
                       json_t *body, char *err, size_t errlen);
/* Check the body (and data) against the schema, as encode does: 0, or -1
   with a message naming the field in err. */
int
rfk_msg_check (const rfk_msg_t *self, char *err, size_t errlen);
/* A deep copy, or NULL when out of memory. */
rfk_msg_t *
rfk_msg_dup (const rfk_msg_t *self);
/* Set (copy) or clear the token. */
void
rfk_msg_set_token (rfk_msg_t *self, const char *token);
/* Set the data to a copy of size bytes (data may be NULL when size is 0),
   replacing any. */
void
rfk_msg_set_data (rfk_msg_t *self, const void *data, size_t size);

/* Shorthands for the family's codec. */
int
rfk_msg_encode (const rfk_msg_t *self, zframe_t **frame_p, char *err, size_t errlen);
int
rfk_msg_decode (const rfk_family_t *family, zframe_t *frame, size_t max_size, rfk_msg_t **msg_p);

/* The default frame cap: a frame over it is refused before it is parsed. */
#define RFK_MSG_MAX_SIZE_DEFAULT (64u * 1024u * 1024u)
/* How deep messages may nest (envelope, body, nested messages, Value,
   Struct and list levels all count): deeper frames are malformed. */
#define RFK_MSG_MAX_DEPTH 128

#ifdef __cplusplus
}
#endif

#endif
