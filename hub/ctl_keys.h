/* ctl_keys: `rolloutctl keys` (CURVE key pairs for the hub, units and
 * operators, and the hub's allow-list), and rolloutctl's own CURVE client
 * setup from ctl.ini. It never talks to the hub: the hub reads the
 * allow-list at start and on SIGHUP. */
#ifndef CTL_KEYS_H
#define CTL_KEYS_H

#include "ro_config.h"

#include <stddef.h>

#define CTL_KEYS_DEFAULT_CONFIG RO_ETC "/ctl.ini"
#define CTL_KEYS_DEFAULT_REGISTRY RO_ETC "/units.csv" /* what `keys unit` checks a unit in */
#define CTL_KEYS_CONFIG_ENV "ROLLOUT_CTL_CONFIG"

/* Run `rolloutctl keys ...`: argv[0] is "keys". Prints results on stdout
 * and reasons on stderr. Returns the exit status: 0 ok, 2 bad usage or bad
 * input (a unit not in the registry or in no known division, an id already
 * listed or not listed, an allow-list or registry that does not load), 1
 * any other failure (a key file exists, a file cannot be locked or written).
 * `keys unit` checks the unit in --registry, else in
 * CTL_KEYS_DEFAULT_REGISTRY when that file exists. */
int ctl_keys_main(int argc, char **argv);

/* rolloutctl's ctl.ini: path if given, else $ROLLOUT_CTL_CONFIG, else
 * CTL_KEYS_DEFAULT_CONFIG if that file exists. Fills *cfg; with no file at
 * all, curve is off (there are no keys to use). With curve on, the three
 * key files it names must be readable keys (the secret one mode 600).
 * Returns 1 if a file was read, 0 if none, -1 with "file:line: reason" or
 * "file: [security] key: reason" in err. */
int ctl_keys_config(const char *path, ro_ctl_config_t *cfg, char *err, size_t errlen);

/* Make sock a CURVE client per cfg (nothing when curve is off), before it
 * connects. Returns 0, or -1 with the reason in err. */
int ctl_keys_client(void *sock, const ro_security_t *sec, char *err, size_t errlen);

#endif
