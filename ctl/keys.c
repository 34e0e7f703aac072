/* rolloutctl keys: key pairs made with zmq_curve_keypair, written with O_EXCL (a
 * key is never overwritten), and allow-list edits made under a lock on the
 * list's folder, checked with the hub's own parser before and after. The
 * hub applies a changed list on SIGHUP; telling it is the operator's job. */
#include "commands.h"
#include "ro_allow.h"
#include "ro_registry.h"
#include "ro_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define PATH_CAP 1024
#define ERR_CAP (3 * PATH_CAP) /* room for two paths and a reason */

static const char s_header[] =
    "# rollout allow-list: the CURVE public keys rollout-hub admits.\n"
    "#   unit UNIT-ID KEY    an agent: reports for UNIT-ID only, on the ingest socket\n"
    "#   operator NAME KEY   a reader: the status and feed sockets only\n"
    "#   reviewer NAME KEY   an operator who also accepts or rejects flagged reports\n"
    "# One entry per line; a unit id, an operator or reviewer name and a key appear\n"
    "# once each.\n"
    "# '#' starts a comment line. Edit with `rolloutctl keys`; the hub reads this file\n"
    "# at start and on SIGHUP, and a bad line makes it admit no one until fixed.\n";

static void s_help(FILE *out)
{
    fprintf(out,
            "usage: rolloutctl keys COMMAND ...\n"
            "\n"
            "Make CURVE key pairs and keep the hub's allow-list (never over the network).\n"
            "\n"
            "  keys hub DIR                      the hub's pair: DIR/hub.key (0600), DIR/hub.pub\n"
            "  keys unit UNIT DIR [--registry CSV] [--allow-list FILE]\n"
            "                                    a unit's pair: DIR/agent.key, DIR/agent.pub;\n"
            "                                    with --allow-list, adds 'unit UNIT KEY' to FILE;\n"
            "                                    UNIT must be in the registry (default\n"
            "                                    %s, when it exists)\n"
            "  keys units --registry CSV DIR [--allow-list FILE]\n"
            "                                    the same for every unit of a registry, in\n"
            "                                    DIR/UNIT/agent.{key,pub}\n"
            "  keys operator NAME DIR [--allow-list FILE]\n"
            "                                    an operator's pair: DIR/operator.{key,pub};\n"
            "                                    operators may use only status and feed\n"
            "  keys reviewer NAME DIR [--allow-list FILE]\n"
            "                                    a reviewer's pair: DIR/reviewer.{key,pub};\n"
            "                                    a reviewer may do all an operator may, and\n"
            "                                    accept or reject flagged reports\n"
            "  keys revoke ID --allow-list FILE  comment out the entry of ID: a unit id,\n"
            "                                    operator:NAME (or NAME), reviewer:NAME, or\n"
            "                                    a public key\n"
            "  keys list --allow-list FILE       check FILE and print its entries\n"
            "\n"
            "Existing key files are never overwritten, and an id already listed is refused\n"
            "(revoke it first). The hub reads the allow-list at start and on SIGHUP:\n"
            "  kill -HUP $(pidof rollout-hub)\n"
            "\n"
            "exit status: 0 ok; 2 bad usage or bad input (a unit not in the registry, an id\n"
            "already listed or not listed, a broken allow-list or registry); 1 other failure\n"
            "(a key file exists, a file cannot be written).\n",
            CTL_KEYS_DEFAULT_REGISTRY);
}

static int s_usage(const char *fmt, const char *arg)
{
    fputs("rolloutctl keys: ", stderr);
    fprintf(stderr, fmt, arg ? arg : "");
    fputs(" (try rolloutctl keys --help)\n", stderr);
    return 2;
}

static int s_fail(const char *msg)
{
    fprintf(stderr, "rolloutctl keys: %s\n", msg);
    return 1;
}

/* Bad input (an id, a list, a registry): one line, exit status 2. */
static int s_bad(const char *msg)
{
    fprintf(stderr, "rolloutctl keys: %s\n", msg);
    return 2;
}

static int s_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* mkdir -p dir (0755 each). */
static int s_mkdir(const char *dir, char *err, size_t errlen)
{
    char p[PATH_CAP];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
            return -1;
        }
        *s = c;
        if (!c)
            return 0;
    }
}

/* A fresh pair into dir/base.key (0600) and dir/base.pub (0644); pub gets
 * the public key. Refuses if either file exists; leaves neither behind on
 * failure. */
static int s_pair(const char *dir, const char *base, char pub[RO_KEY_Z85_LEN + 1], char *err,
                  size_t errlen)
{
    char keyp[PATH_CAP], pubp[PATH_CAP], sec[RO_KEY_Z85_LEN + 1];
    if (s_mkdir(dir, err, errlen))
        return -1;
    if (snprintf(keyp, sizeof keyp, "%s/%s.key", dir, base) >= (int)sizeof keyp ||
        snprintf(pubp, sizeof pubp, "%s/%s.pub", dir, base) >= (int)sizeof pubp) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    if (s_exists(keyp) || s_exists(pubp)) {
        snprintf(err, errlen, "%s exists: keys are never overwritten (move them away first)",
                 s_exists(keyp) ? keyp : pubp);
        return -1;
    }
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot make a key pair: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    int rc = ro_key_write(keyp, sec, 0600, err, errlen);
    if (rc == 0 && ro_key_write(pubp, pub, 0644, err, errlen) != 0) {
        unlink(keyp);
        rc = -1;
    }
    memset(sec, 0, sizeof sec);
    return rc;
}

static void s_unlink_pair(const char *dir, const char *base)
{
    char p[PATH_CAP + 64];
    snprintf(p, sizeof p, "%s/%s.key", dir, base);
    unlink(p);
    snprintf(p, sizeof p, "%s/%s.pub", dir, base);
    unlink(p);
}

/* ---- the allow-list file ------------------------------------------------- */

/* Lock the folder of the allow-list (the file itself is replaced by rename
 * on revoke, so a lock on it would not hold). Returns the fd, or -1. */
static int s_lock(const char *file, char *err, size_t errlen)
{
    char dir[PATH_CAP];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    if (s_mkdir(dir, err, errlen))
        return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "cannot lock %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The list in file (an absent file is an empty list). NULL with err if it
 * cannot be read or is not a valid allow-list: nothing is added to a broken one. */
static ro_allow_t *s_list(const char *file, char *err, size_t errlen)
{
    if (!s_exists(file))
        return ro_allow_parse("", 0, file, err, errlen);
    return ro_allow_load(file, err, errlen);
}

/* Append text to file (creating it 0644 with the header), and sync it. */
static int s_append(const char *file, const char *text, size_t len, char *err, size_t errlen)
{
    int created = !s_exists(file);
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return -1;
    }
    int ok = 1;
    if (created)
        ok = write(fd, s_header, sizeof s_header - 1) == (ssize_t)(sizeof s_header - 1);
    while (ok && len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        if (ok) {
            text += n;
            len -= (size_t)n;
        }
    }
    if (!ok || fsync(fd) != 0) {
        snprintf(err, errlen, "%s: write failed: %s", file, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int s_name_ok(ro_allow_role_t role, const char *name)
{
    return ro_allow_name_valid(role, name);
}

/* keys unit: a unit rollout knows, that is in a division rollout knows and
 * in the registry: registry, else CTL_KEYS_DEFAULT_REGISTRY if that file
 * exists (said on stderr when it does not). Returns 0, after saying on
 * stdout which registry lists it, or 2 after a one-line reason. */
static int s_unit_known(const char *id, const char *registry)
{
    char err[ERR_CAP];
    unsigned long division = strtoul(id, NULL, 10);
    if (!ro_division_name((uint32_t)division)) {
        snprintf(err, sizeof err,
                 "unit %s: %06lu is not one of Hainan's 19 division codes; check the id "
                 "against the hub's registry",
                 id, division);
        return s_bad(err);
    }
    const char *path = registry ? registry : CTL_KEYS_DEFAULT_REGISTRY;
    if (!registry && !s_exists(path)) {
        fprintf(stderr,
                "rolloutctl keys: no registry at %s: unit %s is checked only for a known "
                "division (name the hub's registry with --registry FILE)\n",
                path, id);
        return 0;
    }
    ro_registry_t *reg = ro_registry_load(path, err, sizeof err);
    if (!reg) {
        char why[ERR_CAP + 128];
        snprintf(why, sizeof why, "cannot check unit %s against the registry: %s", id, err);
        return s_bad(why);
    }
    long found = ro_registry_find(reg, id);
    ro_registry_destroy(&reg);
    if (found < 0) {
        snprintf(err, sizeof err,
                 "unit %s is not in the registry %s: check the id, or add the unit to the "
                 "hub's registry first%s",
                 id, path, registry ? "" : " (or name it with --registry FILE)");
        return s_bad(err);
    }
    printf("unit %s is in the registry %s\n", id, path);
    return 0;
}

/* keys unit|operator NAME DIR [--allow-list FILE]; registry for a unit (or NULL) */
static int s_one(ro_allow_role_t role, const char *name, const char *dir, const char *list_path,
                 const char *registry)
{
    const char *what = ro_allow_role_name(role);
    if (!s_name_ok(role, name))
        return s_usage(role == RO_ALLOW_UNIT ? "'%s' is not a unit id DIVISION-NNN"
                                             : "'%s' is not a name (1-32 of A-Z a-z 0-9 . _ -)",
                       name);
    int code;
    if (role == RO_ALLOW_UNIT && (code = s_unit_known(name, registry)))
        return code;
    char err[ERR_CAP] = "", pub[RO_KEY_Z85_LEN + 1];
    int lock = -1;
    if (list_path) {
        lock = s_lock(list_path, err, sizeof err);
        if (lock < 0)
            return s_fail(err);
        ro_allow_t *list = s_list(list_path, err, sizeof err);
        const ro_allow_entry_t *e = list ? ro_allow_find_name(list, role, name) : NULL;
        if (e)
            snprintf(err, sizeof err, "%s: %s %s is already listed (line %d); revoke it first",
                     list_path, what, name, e->line);
        ro_allow_destroy(&list);
        if (e || err[0]) {
            close(lock);
            return s_bad(err); /* a duplicate, or a list that is not one */
        }
    }
    const char *base = role == RO_ALLOW_UNIT ? "agent" : what;
    err[0] = '\0';
    if (s_pair(dir, base, pub, err, sizeof err)) {
        if (lock >= 0)
            close(lock);
        return s_fail(err);
    }
    printf("%s %s: secret key %s/%s.key (keep it there, mode 600), public key %s/%s.pub\n", what,
           name, dir, base, dir, base);
    if (list_path) {
        char line[128];
        int n = snprintf(line, sizeof line, "%s %s %s\n", what, name, pub);
        if (s_append(list_path, line, (size_t)n, err, sizeof err)) {
            s_unlink_pair(dir, base);
            close(lock);
            return s_fail(err);
        }
        close(lock);
        printf("added '%s %s %s' to %s; send SIGHUP to rollout-hub to admit it\n", what, name, pub,
               list_path);
    } else {
        printf("add this line to the hub's allow-list: %s %s %s\n", what, name, pub);
    }
    return 0;
}

/* keys units --registry CSV DIR [--allow-list FILE] */
static int s_units(const char *registry, const char *dir, const char *list_path)
{
    char err[ERR_CAP] = "";
    ro_registry_t *reg = ro_registry_load(registry, err, sizeof err);
    if (!reg) {
        fprintf(stderr, "rolloutctl keys: %s\n", err);
        return 2;
    }
    size_t n = ro_registry_count(reg);
    int lock = -1, code = 1;
    char *text = NULL;
    size_t made = 0, used = 0;
    if (list_path) {
        lock = s_lock(list_path, err, sizeof err);
        if (lock < 0)
            goto done;
        ro_allow_t *list = s_list(list_path, err, sizeof err);
        if (!list) {
            code = 2;
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            const ro_allow_entry_t *e =
                ro_allow_find_name(list, RO_ALLOW_UNIT, ro_registry_at(reg, i)->id);
            if (e) {
                snprintf(err, sizeof err,
                         "%s: unit %s is already listed (line %d); revoke it first", list_path,
                         e->name, e->line);
                ro_allow_destroy(&list);
                code = 2;
                goto done;
            }
        }
        ro_allow_destroy(&list);
    }
    if (s_mkdir(dir, err, sizeof err))
        goto done;
    /* check every file first, so a refusal leaves nothing half made */
    for (size_t i = 0; i < n; i++) {
        char p[PATH_CAP];
        snprintf(p, sizeof p, "%s/%s/agent.key", dir, ro_registry_at(reg, i)->id);
        if (s_exists(p)) {
            snprintf(err, sizeof err, "%s exists: keys are never overwritten", p);
            goto done;
        }
    }
    text = malloc(n * 96 + 1);
    if (!text) {
        snprintf(err, sizeof err, "out of memory");
        goto done;
    }
    for (; made < n; made++) {
        const char *id = ro_registry_at(reg, made)->id;
        char sub[PATH_CAP], pub[RO_KEY_Z85_LEN + 1];
        snprintf(sub, sizeof sub, "%s/%s", dir, id);
        if (s_pair(sub, "agent", pub, err, sizeof err))
            goto done;
        used += (size_t)snprintf(text + used, 96, "unit %s %s\n", id, pub);
    }
    if (list_path && s_append(list_path, text, used, err, sizeof err))
        goto done;
    printf("%zu unit key pairs in %s/UNIT/agent.{key,pub}\n", n, dir);
    if (list_path)
        printf("added %zu units to %s; send SIGHUP to rollout-hub to admit them\n", n, list_path);
    code = 0;
done:
    if (code) {
        for (size_t i = 0; i < made; i++) {
            char sub[PATH_CAP];
            snprintf(sub, sizeof sub, "%s/%s", dir, ro_registry_at(reg, i)->id);
            s_unlink_pair(sub, "agent");
        }
        fprintf(stderr, "rolloutctl keys: %s\n", err);
    }
    if (lock >= 0)
        close(lock);
    free(text);
    ro_registry_destroy(&reg);
    return code;
}

/* Read a whole small file; NULL with err. */
static char *s_slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap || n > RO_ALLOW_FILE_MAX)
            break;
        char *more = realloc(buf, cap * 2);
        if (!more) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = more;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > RO_ALLOW_FILE_MAX) {
        snprintf(err, errlen, "%s: cannot read it", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* keys revoke ID --allow-list FILE */
static int s_revoke(const char *id, const char *list_path)
{
    char err[ERR_CAP] = "", tmp[PATH_CAP];
    int lock = s_lock(list_path, err, sizeof err);
    if (lock < 0)
        return s_fail(err);
    int code = 1;
    size_t len = 0;
    char *text = NULL;
    FILE *out = NULL;
    ro_allow_t *list = ro_allow_load(list_path, err, sizeof err);
    if (!list) {
        code = 2;
        goto done;
    }
    const ro_allow_entry_t *e = NULL;
    size_t np = strlen(RO_ALLOW_OPERATOR_PREFIX);
    if (ro_allow_name_valid(RO_ALLOW_UNIT, id))
        e = ro_allow_find_name(list, RO_ALLOW_UNIT, id);
    else if (!strncmp(id, RO_ALLOW_OPERATOR_PREFIX, np))
        e = ro_allow_find_name(list, RO_ALLOW_OPERATOR, id + np);
    else if (!strncmp(id, RO_ALLOW_REVIEWER_PREFIX, strlen(RO_ALLOW_REVIEWER_PREFIX)))
        e = ro_allow_find_name(list, RO_ALLOW_REVIEWER, id + strlen(RO_ALLOW_REVIEWER_PREFIX));
    else if (ro_allow_key_valid(id))
        e = ro_allow_find_key(list, id);
    if (!e && ro_allow_name_valid(RO_ALLOW_OPERATOR, id))
        e = ro_allow_find_name(list, RO_ALLOW_OPERATOR, id);
    if (!e) {
        snprintf(err, sizeof err, "%s: no entry for '%s'", list_path, id);
        code = 2;
        goto done;
    }
    int target = e->line;
    char what[RO_ALLOW_NAME_MAX + 16];
    snprintf(what, sizeof what, "%s %s", ro_allow_role_name(e->role), e->name);
    if (!(text = s_slurp(list_path, &len, err, sizeof err)))
        goto done;
    struct stat st;
    if (stat(list_path, &st) != 0)
        st.st_mode = 0644;
    snprintf(tmp, sizeof tmp, "%s.tmp", list_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0755);
    if (fd < 0 || !(out = fdopen(fd, "w"))) {
        snprintf(err, sizeof err, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto done;
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int line = 1;
    for (size_t i = 0; i < len; line++) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) + 1 : len - i;
        if (line == target)
            fprintf(out, "# revoked %s: ", stamp);
        fwrite(text + i, 1, n, out);
        if (line == target && !nl)
            fputc('\n', out);
        i += n;
    }
    int bad = fflush(out) != 0 || fsync(fileno(out)) != 0;
    bad |= fclose(out) != 0;
    out = NULL;
    /* the result must still be a list the hub accepts before it replaces the old one */
    ro_allow_t *check = bad ? NULL : ro_allow_load(tmp, err, sizeof err);
    if (!check || ro_allow_find_name(check, e->role, e->name) || rename(tmp, list_path) != 0) {
        if (!err[0] || check)
            snprintf(err, sizeof err, "%s: cannot replace it: %s", list_path, strerror(errno));
        ro_allow_destroy(&check);
        unlink(tmp);
        goto done;
    }
    ro_allow_destroy(&check);
    fsync(lock);
    printf("revoked %s (line %d of %s); send SIGHUP to rollout-hub to apply it, live "
           "connections included\n",
           what, target, list_path);
    code = 0;
done:
    if (code)
        fprintf(stderr, "rolloutctl keys: %s\n", err);
    free(text);
    ro_allow_destroy(&list);
    close(lock);
    return code;
}

/* keys list --allow-list FILE */
static int s_show(const char *list_path)
{
    char err[ERR_CAP];
    ro_allow_t *list = ro_allow_load(list_path, err, sizeof err);
    if (!list)
        return s_bad(err);
    size_t units = 0, ops = 0;
    for (size_t i = 0; i < ro_allow_count(list); i++) {
        const ro_allow_entry_t *e = ro_allow_at(list, i);
        printf("%s %s %s\n", ro_allow_role_name(e->role), e->name, e->key);
        if (e->role == RO_ALLOW_UNIT)
            units++;
        else
            ops++;
    }
    fprintf(stderr, "%s: %zu units, %zu operators%s\n", list_path, units, ops,
            units + ops ? "" : " (a hub with this list admits no one)");
    ro_allow_destroy(&list);
    return 0;
}

int ctl_keys_main(int argc, char **argv)
{
    const char *pos[3] = {NULL, NULL, NULL}, *list = NULL, *registry = NULL;
    int npos = 0, options = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        /* a Z85 key may begin with '-': it is an argument, never an option */
        if (!options || ro_allow_key_valid(a)) {
            if (npos == 3)
                return s_usage("unexpected argument '%s'", a);
            pos[npos++] = a;
        } else if (!strcmp(a, "--")) {
            options = 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help")) {
            s_help(stdout);
            return 0;
        } else if (!strcmp(a, "--allow-list") || !strcmp(a, "--registry")) {
            if (i + 1 >= argc || !argv[i + 1][0])
                return s_usage("%s needs a file", a);
            *(a[2] == 'a' ? &list : &registry) = argv[++i];
        } else if (!strncmp(a, "--allow-list=", 13) && a[13]) {
            list = a + 13;
        } else if (!strncmp(a, "--registry=", 11) && a[11]) {
            registry = a + 11;
        } else if (a[0] == '-' && a[1]) {
            return s_usage("unknown option '%s'", a);
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return s_usage("unexpected argument '%s'", a);
        }
    }
    const char *cmd = pos[0];
    if (!cmd)
        return s_usage("which command: hub, unit, units, operator, reviewer, revoke or list?%s",
                       NULL);
    if (registry && strcmp(cmd, "units") && strcmp(cmd, "unit"))
        return s_usage("--registry goes with 'keys unit' and 'keys units'%s", NULL);
    if (!strcmp(cmd, "hub")) {
        if (npos != 2 || list)
            return s_usage("usage: keys hub DIR%s", NULL);
        char err[ERR_CAP], pub[RO_KEY_Z85_LEN + 1];
        if (s_pair(pos[1], "hub", pub, err, sizeof err))
            return s_fail(err);
        printf("hub: secret key %s/hub.key (mode 600, for hub.ini [security] secret_key), "
               "public key %s/hub.pub (give it to agents and operators): %s\n",
               pos[1], pos[1], pub);
        return 0;
    }
    if (!strcmp(cmd, "unit") || !strcmp(cmd, "operator") || !strcmp(cmd, "reviewer")) {
        if (npos != 3)
            return s_usage(cmd[0] == 'u'
                               ? "usage: keys %s UNIT DIR [--registry CSV] [--allow-list FILE]"
                               : "usage: keys %s NAME DIR [--allow-list FILE]",
                           cmd);
        ro_allow_role_t role = cmd[0] == 'u'   ? RO_ALLOW_UNIT
                               : cmd[0] == 'o' ? RO_ALLOW_OPERATOR
                                               : RO_ALLOW_REVIEWER;
        return s_one(role, pos[1], pos[2], list, registry);
    }
    if (!strcmp(cmd, "units")) {
        if (npos != 2 || !registry)
            return s_usage("usage: keys units --registry CSV DIR [--allow-list FILE]%s", NULL);
        return s_units(registry, pos[1], list);
    }
    if (!strcmp(cmd, "revoke")) {
        if (npos != 2 || !list)
            return s_usage("usage: keys revoke ID --allow-list FILE%s", NULL);
        return s_revoke(pos[1], list);
    }
    if (!strcmp(cmd, "list")) {
        if (npos != 1 || !list)
            return s_usage("usage: keys list --allow-list FILE%s", NULL);
        return s_show(list);
    }
    return s_usage("unknown keys command '%s'", cmd);
}
