/*  rfk_broker.h: the bus library, in one include.

    rfk_bus.h       options (bus.* config keys) and socket constructors
    rfk_timer.h     nearest-deadline poll timeouts and one-shot timers
    rfk_envelope.h  envelopes on DEALER, ROUTER and PUB/SUB sockets; topics
    rfk_heartbeat.h peer liveness tables and ping schedules
    rfk_client.h    request/reply over a DEALER (blocking and in-loop)
    rfk_server.h    a ROUTER that decodes, dispatches and answers bad input
    rfk_proxy.h     the event proxy (XSUB -> XPUB), publishers, subscribers
    rfk_poll.h      a poll set of sockets and descriptors, registered once
    rfk_session.h   a dynamic service's conversation with admin
*/
#ifndef RFK_BROKER_H_INCLUDED
#define RFK_BROKER_H_INCLUDED

#include "rfk_bus.h"
#include "rfk_curve.h"
#include "rfk_timer.h"
#include "rfk_envelope.h"
#include "rfk_heartbeat.h"
#include "rfk_client.h"
#include "rfk_server.h"
#include "rfk_proxy.h"
#include "rfk_poll.h"
#include "rfk_session.h"

#endif
