/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared pieces of the kvmon command-line tool. */
#ifndef KVMON_CLI_H
#define KVMON_CLI_H

#include "kvmon.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>

/* Documented exit codes (docs/cli.md). */
enum { EXIT_OK = 0, EXIT_FINDINGS = 1, EXIT_ERROR = 2 };

#define DEFAULT_VM_NAME "guest"
#define GUEST_READY_LINE "KVMON-GUEST-READY"

/* Options every VM-facing command takes. */
struct cli {
	const char *prog;    /* "kvmon vm start" etc., for messages */
	bool json;
	const char *name;
	const char *qmp;
	const char *rundir;
	int timeout_s;
	const char *backend; /* --backend file|process|qmp (NULL: automatic) */
	const char *dump;    /* --dump FILE: offline, no VM */
};

/* Long options shared by VM-facing commands; codes >= 0x100. */
enum {
	OPT_JSON = 0x100, OPT_NAME, OPT_QMP, OPT_RUNDIR, OPT_HELP, OPT_TIMEOUT,
	OPT_PAUSE, OPT_BACKEND, OPT_DUMP, OPT_FIRST_LOCAL = 0x200,
};
#define COMMON_LONG_OPTS                                             \
	{ "json", no_argument, NULL, OPT_JSON },                     \
	{ "name", required_argument, NULL, OPT_NAME },               \
	{ "qmp", required_argument, NULL, OPT_QMP },                 \
	{ "rundir", required_argument, NULL, OPT_RUNDIR },           \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },         \
	{ "help", no_argument, NULL, OPT_HELP }
#define COMMON_HELP                                                          \
	"  --name NAME      VM kvmon started (default: " DEFAULT_VM_NAME ")\n" \
	"  --qmp SOCKET     any QEMU, through its QMP unix socket\n"          \
	"  --rundir DIR     run directory (default: $KVMON_RUNDIR or /run/kvmon)\n" \
	"  --timeout SEC    give up after SEC seconds\n"                     \
	"  --json           machine-readable output on stdout\n"             \
	"  --help           this text\n"

/* Options of commands that read guest memory (mem, ps, lsmod, ...). */
#define MEM_LONG_OPTS                                                \
	{ "backend", required_argument, NULL, OPT_BACKEND },         \
	{ "dump", required_argument, NULL, OPT_DUMP }
#define MEM_HELP                                                             \
	"  --backend B      read guest RAM through B: file (shared RAM file),\n" \
	"                   process (QEMU's memory, needs ptrace access) or\n" \
	"                   qmp (HMP xp, slow); default: file if the VM has a\n" \
	"                   shared RAM file, else process\n"                  \
	"  --dump FILE      read a memory dump instead of a VM (ELF core from\n" \
	"                   kvmon mem dump / dump-guest-memory, or raw)\n"
/* Handle --backend/--dump; returns 1 if handled, 0 if not, -1 on error. */
int cli_mem_opt(struct cli *c, int opt, const char *optarg_);
/* Guest memory of the selected VM or dump; *vm is NULL for a dump. */
struct kvmon_mem *cli_open_mem(struct cli *c, struct kvmon_vm **vm);

/* Handle a shared option; returns 1 if handled, 0 if not, -1 on error. */
int cli_common_opt(struct cli *c, int opt, const char *optarg_);
void cli_init(struct cli *c, const char *prog);
/* Open the VM the user named (by --qmp, else --name). */
struct kvmon_vm *cli_open_vm(struct cli *c);
/* The guest kernel of the selected VM: VM, memory and kernel handles. */
struct cli_kernel {
	struct kvmon_vm *vm;
	struct kvmon_mem *mem;
	struct kvmon_kernel *k;
};
int cli_open_kernel(struct cli *c, struct cli_kernel *ck);
void cli_close_kernel(struct cli_kernel *ck);
/* Parse the options every kernel-reading command takes (COMMON + --pause);
 * returns 1 for --help shown, 0 ok, -1 error. */
int cli_kernel_opts(struct cli *c, int argc, char **argv, const char *usage,
		    bool *pause);
/* Pause the VM for a consistent snapshot (QMP stop/cont). */
int cli_pause(struct cli *c, struct kvmon_vm *vm, bool pause);

/* The shared alert format (docs/cli.md): time, vm, detector, severity,
 * message, details. */
struct json_object *cli_alert(const char *vm, const struct kvmon_finding *f);
const char *cli_severity_name(int severity);
/* "syscall_table,hidden_process" -> KVMON_DETECT_* mask. */
int cli_parse_detectors(const char *list, unsigned *mask);

/* "64M", "1GiB", "4096": bytes (K/M/G/T, optional "iB"/"B"), at most max;
 * -1 for anything else. */
int cli_parse_size(const char *s, uint64_t max, uint64_t *out);

/* Report a failure: message on stderr, {"error":...} on stdout with --json. */
int cli_fail(const struct cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Report the library's last error with context. */
int cli_lib_fail(const struct cli *c, const char *what);
/* Print a JSON object (and release it). */
void cli_emit(struct json_object *o);
/* Parse JSON text from the library into an object (NULL on bad text). */
struct json_object *cli_parse(const char *text);
/* Progress line on a terminal only (no-op when stderr is not a tty). */
void cli_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_progress_done(void);
int cli_usage_error(const struct cli *c, const char *usage);

/* guest.c: the bundled test guest. */
const char *guest_dir(void);
/* Build the bundled guest if it is missing or out of date. */
int guest_ensure(bool quiet);
/* Fill a VM config with the bundled guest's kernel, initrd and disk. */
int guest_configure(struct kvmon_vm_config *cfg);

/* Human-readable view of kvmon_vm_info_json(). */
void vm_info_print(struct json_object *info);

int cmd_vm(int argc, char **argv);
int cmd_qmp(int argc, char **argv);
int cmd_mem(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_guest(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_lsmod(int argc, char **argv);
int cmd_syscalls(int argc, char **argv);
int cmd_kernel(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_baseline(int argc, char **argv);

/* cages (cmd_cage.c, cmd_balloon.c) */
int cmd_cage(int argc, char **argv);
int cmd_balloon(int argc, char **argv);

/* network (cmd_mirror.c) */
int cmd_mirror(int argc, char **argv);


/* ------------------------------------------------------------- disk (cmd_disk.c) */
enum { OPT_IMAGE = 0x380, OPT_FORMAT, OPT_PARTITION };
enum { OPT_SECTOR_SIZE = 0x3b0 };
#define DISK_LONG_OPTS                                               \
	{ "image", required_argument, NULL, OPT_IMAGE },             \
	{ "format", required_argument, NULL, OPT_FORMAT },           \
	{ "partition", required_argument, NULL, OPT_PARTITION },     \
	{ "sector-size", required_argument, NULL, OPT_SECTOR_SIZE }
#define DISK_HELP                                                            \
	"  --image FILE     an image at rest (VM stopped) instead of a VM\n"   \
	"  --format F       image format: qcow2 or raw (default: by magic)\n"  \
	"  --partition N    partition N (default: the whole disk, or the\n"    \
	"                   first partition with an ext2/3/4 file system)\n"    \
	"  --partition VG/LV  LVM2 logical volume (linear; see disk parts)\n" \
	"  --sector-size N  512 or 4096 for the partition table (default:\n" \
	"                   512, or 4096 when a GPT is found there)\n"
struct cli_disk {
	const char *image, *format;
	unsigned partition;
	const char *volume;     /* --partition VG/LV */
	struct kvmon_disk *vd;  /* its view */
	unsigned sector_size;   /* --sector-size, 0: detect */
	struct kvmon_vm *vm;
	struct kvmon_disk *d;
	struct kvmon_fs *fs;
	const char *node, *track, *since; /* kvmon_disk_opts (baselines) */
};
/* Handle a DISK_LONG_OPTS option: 1 handled, 0 not, -1 error. */
int cli_disk_opt(struct cli_disk *cd, struct cli *c, int opt, const char *arg);
/* Open the disk (export of the VM, or --image) and, if fs, its file
 * system. hold: INT/TERM/HUP wait until cli_close_disk (no leftovers). */
int cli_open_disk(struct cli *c, struct cli_disk *cd, bool fs, bool hold);
int cli_close_disk(struct cli *c, struct cli_disk *cd);
/* While an export exists, INT/TERM/HUP wait (blocked) until it is gone,
 * and SIGPIPE is ignored; release restores the mask. */
void cli_hold_signals(void);
void cli_release_signals(void);
/* The file system of the open disk: --partition N or VG/LV, --sector-size. */
int cli_disk_open_fs(struct cli *c, struct cli_disk *cd);
/* kvmon disk baseline|changes|drop-baseline FILE (disk_baseline.c). */
int cli_disk_baseline(struct cli *c, struct cli_disk *cd, const char *sub,
		      const char *file, const char *bitmap);
/* Why bits of kvmon_fs_changes as words ("inode,data"); buf >= 40. */
const char *cli_why(unsigned why, char *buf, size_t size);
int cmd_disk(int argc, char **argv);
int cmd_mount(int argc, char **argv);
/* file integrity (cmd_fim.c) */
int cmd_fim(int argc, char **argv);

#endif
