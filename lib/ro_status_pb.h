/* ro_status_pb: ro_status's protobuf side of a Scope, private to lib/ (a
 * FeedUpdate carries a Scope: lib/ro_feed.c packs and unpacks it here). */
#ifndef RO_STATUS_PB_H
#define RO_STATUS_PB_H

#include "ro_pb.h"
#include "ro_status.h"

/* The protobuf form of one scope and the indicators it points to. */
typedef struct {
    Rollout__Scope scope;                       /* points into the rest */
    Rollout__Indicator inds[RO_INDICATORS_MAX]; /* its indicators */
    Rollout__Indicator *ip[RO_INDICATORS_MAX];  /* pointers to them */
} ro_status_pb_scope_t;

/* Fill pb from s, borrowing s's strings. Returns 0, or -1 when s has more
 * than RO_INDICATORS_MAX indicators. */
int ro_status_scope_to_pb(const ro_status_scope_t *s, ro_status_pb_scope_t *pb);

/* Copy pb (already checked by ro_pb_check) into out, whose strings are
 * then its own. Returns 0, or -1 with a reason in err (a string or a count
 * over its limit, out of memory); out is then empty. */
int ro_status_scope_from_pb(const Rollout__Scope *pb, ro_status_scope_t *out, char *err,
                            size_t errlen);

#endif
