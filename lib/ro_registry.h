/* ro_registry: the units rollout knows (config/units.csv) and the divisions
 * they belong to. Loaded once, read-only after; lookups by unit id are O(1).
 * It knows nothing of reports or targets. */
#ifndef RO_REGISTRY_H
#define RO_REGISTRY_H

#include "ro_report.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    RO_LEVEL_PROVINCIAL = 0, /* 省级 */
    RO_LEVEL_MUNICIPAL = 1,  /* 市县级 */
    RO_LEVEL_TOWNSHIP = 2,   /* 乡镇 */
    RO_LEVEL_COUNT = 3,
} ro_level_t;

#define RO_PROVINCE_CODE 460000u
#define RO_NAME_MAX 120
#define RO_GOAL_COLUMNS 4 /* per-unit goal override columns a registry may carry */

typedef struct {
    char id[RO_UNIT_MAX + 1];     /* DIVISION-NNN */
    ro_level_t level;             /* provincial, municipal or township */
    uint32_t division;            /* 460000 for provincial units, else the city/county */
    char name[RO_NAME_MAX + 1];   /* display name (UTF-8) */
    double goal[RO_GOAL_COLUMNS]; /* overrides, by goal column; < 0 means none */
} ro_unit_t;

typedef struct ro_registry ro_registry_t;

/* Load a units CSV: a header line `id,level,division,name` optionally
 * followed by goal columns named `goal.<indicator>`; '#' lines are comments.
 * Returns NULL with "file:line: reason" in err on any bad line, unknown
 * division, duplicate id or id whose prefix is not its division. */
ro_registry_t *ro_registry_load(const char *path, char *err, size_t errlen);
void ro_registry_destroy(ro_registry_t **self_p);

size_t ro_registry_count(const ro_registry_t *self);
const ro_unit_t *ro_registry_at(const ro_registry_t *self, size_t index);
/* Index of the unit with this id, or -1. */
long ro_registry_find(const ro_registry_t *self, const char *id);
/* Column index of goal.<indicator>, or -1 if the registry has no such column. */
int ro_registry_goal_column(const ro_registry_t *self, const char *indicator);

/* Level names: "provincial", "municipal", "township"; Chinese labels too. */
const char *ro_level_name(ro_level_t level);
const char *ro_level_label(ro_level_t level);
/* Parse a level name; returns 0 and sets *out, or -1. */
int ro_level_parse(const char *s, ro_level_t *out);

/* The 19 division codes of the domain (the province first, then the 18
 * cities and counties in the order of the source document). */
#define RO_DIVISION_COUNT 19
uint32_t ro_division_code(size_t index);
/* Chinese name of a division code, or NULL if rollout does not know it. */
const char *ro_division_name(uint32_t code);
/* Index 0..18 of a division code, or -1. */
int ro_division_index(uint32_t code);

#endif
