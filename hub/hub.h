/* hub: the hub service as one object. hub_new opens the data folder, its
 * lock and the store, and begins the check at start; hub_start opens the
 * rest the service runs on, over the model main loaded meanwhile (the
 * units' states, ingest, status and its thread, the sockets, the feed and
 * HTTP); hub_run serves
 * until asked to stop, taking SIGHUP's reloads in its loop, and
 * hub_destroy closes it all. main.c keeps the options, --check and the
 * signals; what runs in which thread, and who holds which lock, is drawn
 * at the top of hub.c. */
#ifndef HUB_HUB_H
#define HUB_HUB_H

#include "engine.h"
#include "ro_config.h"
#include "ro_registry.h"
#include "ro_targets.h"

#include <stddef.h>

/* What the hub evaluates with: the registry, the targets and the engine
 * built over both, and the targets file's text (rolloutctl report asks for
 * it). Loaded whole, swapped whole at a reload. */
typedef struct {
    ro_registry_t *reg;        /* units.csv */
    ro_targets_t *targets;     /* targets.ini */
    hub_engine_t *engine;      /* attainment over reg and targets */
    char *targets_text;        /* targets.ini as read */
    struct hub_review *review; /* targets.ini [review]'s rules over reg (hub/review.h) */
} hub_model_t;

/* Load cfg's registry and targets and build the engine into *m (zeroed
 * first). Returns 0, or -1 with the reason in err and *m empty. */
int hub_model_load(const ro_hub_config_t *cfg, hub_model_t *m, char *err, size_t errlen);
/* Free what *m holds and zero it. */
void hub_model_release(hub_model_t *m);

typedef struct hub hub_t;

/* Open the hub's data folder (taking its lock) and store, for cfg (copied)
 * as read from config_path (read again for max_store_bytes at a reload),
 * and begin the check at start in a thread, which runs while the caller
 * loads the model (a province's registry and goals take about as long).
 * The threads it starts, here and in hub_start, inherit the caller's
 * signal mask: block the signals main handles first. Returns NULL with the
 * reason in err. */
hub_t *hub_new(const ro_hub_config_t *cfg, const char *config_path, char *err, size_t errlen);
/* Start the hub opened by hub_new on model (taken over, even on failure).
 * Returns 0, or -1 with the reason in err (then hub_destroy it). */
int hub_start(hub_t *self, hub_model_t *model, char *err, size_t errlen);
/* Serve until hub_request_stop, then give the agents a moment for the last
 * acks and log "stopped". */
void hub_run(hub_t *self);
void hub_destroy(hub_t **self_p);

/* From a signal handler (async-signal-safe): stop the running hub, or
 * reload the allow-list, registry, targets and max_store_bytes. */
void hub_request_stop(void);
void hub_request_reload(void);

/* What --check shares with the start. hub_check_data_dir: what the start
 * needs of data_dir, checked without creating anything; sets *missing when
 * the start would create it; returns 0, or -1 with the reason in err.
 * hub_warn_plain: with curve off, log an error per socket that listens
 * beyond loopback; returns how many (0 with curve on). */
int hub_check_data_dir(const char *dir, int *missing, char *err, size_t errlen);
int hub_warn_plain(const ro_hub_config_t *cfg);

#endif
