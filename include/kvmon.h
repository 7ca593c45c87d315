/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libkvmon — IDS offloading for KVM/QEMU.
 *
 * One public header. Handles are opaque. Functions return -1 or NULL on
 * failure; the reason is then available from kvmon_get_error() and
 * kvmon_get_errno() in the same thread. The library never prints and never
 * exits: diagnostics go to the callback set with kvmon_set_log().
 *
 * Everything the library reads from a guest (memory, disk, QMP replies of a
 * compromised QEMU) is treated as hostile: bounded, checked, never trusted.
 * The library never writes into guest memory or guest disks.
 */
#ifndef KVMON_H
#define KVMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KVMON_VERSION "0.1.0"

#if defined(__GNUC__)
#define KVMON_API __attribute__((visibility("default")))
#else
#define KVMON_API
#endif

/* ------------------------------------------------------------------ errors */

/* Message describing the last failure in this thread (never NULL). */
KVMON_API const char *kvmon_get_error(void);
/* errno value of the last failure in this thread (0 if none was set). */
KVMON_API int kvmon_get_errno(void);

enum kvmon_log_level {
	KVMON_LOG_ERROR = 0,
	KVMON_LOG_WARN = 1,
	KVMON_LOG_INFO = 2,
	KVMON_LOG_DEBUG = 3,
};

typedef void (*kvmon_log_fn)(void *opaque, int level, const char *msg);

/* Process-wide log sink; messages above max_level are not formatted. */
KVMON_API void kvmon_set_log(kvmon_log_fn fn, void *opaque, int max_level);

/* Free a string or buffer returned by the library. */
KVMON_API void kvmon_free(void *p);

/* -------------------------------------------------------------------- QMP */

struct kvmon_qmp;

/* Limits a QMP connection enforces on the peer (QEMU may be compromised). */
#define KVMON_QMP_DEFAULT_TIMEOUT_MS 10000
#define KVMON_QMP_DEFAULT_MAX_MESSAGE (8u << 20)
#define KVMON_QMP_MAX_EVENTS 1024

/*
 * Connect to a QMP unix socket, read the greeting and negotiate
 * capabilities. timeout_ms bounds the whole handshake and becomes the
 * default timeout of later commands (<= 0: KVMON_QMP_DEFAULT_TIMEOUT_MS).
 */
KVMON_API struct kvmon_qmp *kvmon_qmp_connect(const char *socket_path, int timeout_ms);
/* Same over an already-connected stream socket; takes ownership of fd. */
KVMON_API struct kvmon_qmp *kvmon_qmp_connect_fd(int fd, int timeout_ms);
KVMON_API void kvmon_qmp_close(struct kvmon_qmp *qmp);

KVMON_API int kvmon_qmp_set_timeout(struct kvmon_qmp *qmp, int timeout_ms);
/* Largest message accepted from the peer; larger ones fail the connection. */
KVMON_API int kvmon_qmp_set_max_message(struct kvmon_qmp *qmp, size_t bytes);

/* QEMU version from the greeting, e.g. "7.2.22". */
KVMON_API const char *kvmon_qmp_qemu_version(const struct kvmon_qmp *qmp);
/* pid of the process on the other end of the socket, or -1 if unknown. */
KVMON_API pid_t kvmon_qmp_peer_pid(const struct kvmon_qmp *qmp);

/*
 * Run a QMP command. args_json is a JSON object text or NULL. On success
 * returns 0 and, if reply_json is not NULL, stores the JSON text of the
 * "return" member (free with kvmon_free). A QMP error reply returns -1 with
 * errno EREMOTEIO and the error text "<class>: <desc>". Events that arrive
 * meanwhile are queued for kvmon_qmp_next_event().
 */
KVMON_API int kvmon_qmp_execute(struct kvmon_qmp *qmp, const char *command,
		      const char *args_json, char **reply_json);

/* HMP command through human-monitor-command; *output is its text. */
KVMON_API int kvmon_qmp_hmp(struct kvmon_qmp *qmp, const char *command_line,
		  char **output);

/*
 * Guest-virtual to guest-physical through QEMU (HMP gva2gpa), in the page
 * tables of the monitor's current CPU: the paper's baseline translation.
 * -1 with EFAULT when the address is unmapped.
 */
KVMON_API int kvmon_qmp_gva2gpa(struct kvmon_qmp *qmp, uint64_t va,
				uint64_t *gpa);

/*
 * Next asynchronous event as JSON text. Returns 1 and sets *event_json,
 * 0 on timeout (timeout_ms 0 = poll, < 0 = connection default), -1 on error.
 */
KVMON_API int kvmon_qmp_next_event(struct kvmon_qmp *qmp, int timeout_ms,
			 char **event_json);
/* Events dropped because the queue was full (KVMON_QMP_MAX_EVENTS). */
KVMON_API uint64_t kvmon_qmp_events_dropped(const struct kvmon_qmp *qmp);

/* --------------------------------------------------------------------- VMs */

struct kvmon_vm_config;
struct kvmon_vm;

/* Run directory holding one subdirectory per VM kvmon started. */
KVMON_API const char *kvmon_default_rundir(void);

KVMON_API struct kvmon_vm_config *kvmon_vm_config_new(const char *name);
KVMON_API void kvmon_vm_config_free(struct kvmon_vm_config *cfg);
/* String options: "rundir", "qemu" (binary), "kernel", "initrd", "append",
 * "disk" (qcow2 or raw), "accel" ("tcg" or "kvm"), "mem-dir" (directory of
 * the shared RAM file: /dev/shm by default, or a hugetlbfs mount). */
KVMON_API int kvmon_vm_config_set(struct kvmon_vm_config *cfg, const char *key,
			const char *value);
/* Numeric options: "memory-mb", "cpus", "http-port" (host port forwarded
 * to guest port 80; 0 = pick a free one, -1 = none), "control" (1 = add the
 * test-control virtio-serial port), "disk-overlay" (1 = guest writes go to a
 * per-run overlay, the given disk is never written), "balloon" (0 = no
 * virtio-balloon device; default 1). */
KVMON_API int kvmon_vm_config_set_int(struct kvmon_vm_config *cfg, const char *key,
			    long long value);

/* Launch QEMU as configured; returns once QMP answers. */
KVMON_API struct kvmon_vm *kvmon_vm_start(const struct kvmon_vm_config *cfg);
/* Open a VM that kvmon started (rundir NULL = default). */
KVMON_API struct kvmon_vm *kvmon_vm_open(const char *rundir, const char *name);
/* Attach to any running QEMU through its QMP socket. */
KVMON_API struct kvmon_vm *kvmon_vm_attach(const char *qmp_socket);

enum kvmon_stop_flags {
	KVMON_STOP_GRACEFUL = 1, /* system_powerdown first, then quit */
};
/* Stop the VM and, for VMs kvmon started, remove their run state. */
KVMON_API int kvmon_vm_stop(struct kvmon_vm *vm, unsigned flags, int timeout_ms);
/*
 * Close the VM's QMP connection; the next call that needs QMP reconnects.
 * QEMU serves one client per QMP socket, so a long-lived handle should
 * disconnect when idle to let other tools in.
 */
KVMON_API void kvmon_vm_disconnect(struct kvmon_vm *vm);
/* Release the handle; the VM keeps running. */
KVMON_API void kvmon_vm_close(struct kvmon_vm *vm);

KVMON_API const char *kvmon_vm_name(const struct kvmon_vm *vm);
KVMON_API pid_t kvmon_vm_pid(const struct kvmon_vm *vm);
KVMON_API struct kvmon_qmp *kvmon_vm_qmp(struct kvmon_vm *vm);
/* Path of a run-state file kvmon recorded: "console", "control", "qmp",
 * "ram", "disk"; NULL when unknown (e.g. attached VMs). */
KVMON_API const char *kvmon_vm_path(const struct kvmon_vm *vm, const char *what);
/* Host port forwarded to the guest's port 80, or -1. */
KVMON_API int kvmon_vm_http_port(const struct kvmon_vm *vm);

/*
 * Wait until the VM's serial console log (VMs kvmon started) contains text.
 * The log is guest output: it is scanned in bounded chunks. Returns 0 when
 * found, -1 with ETIMEDOUT after timeout_ms, or ESRCH if QEMU exits.
 */
KVMON_API int kvmon_vm_wait_console(struct kvmon_vm *vm, const char *text,
				    int timeout_ms);

/* One contiguous range of guest-physical RAM and where it lives. */
struct kvmon_ram_range {
	uint64_t gpa;            /* guest-physical start */
	uint64_t size;           /* bytes */
	uint64_t backend_offset; /* offset inside the RAM backend */
	char backend[64];        /* memory backend / RAM block name */
};

/*
 * Guest-physical RAM layout as QEMU reports it (never assumed).
 * Fills up to max ranges, stores the total count in *count.
 */
KVMON_API int kvmon_vm_ram_layout(struct kvmon_vm *vm, struct kvmon_ram_range *out,
			size_t max, size_t *count);

/* Everything kvmon knows about the VM, as a JSON object (schema in
 * docs/json-schema.md). Free with kvmon_free. */
KVMON_API int kvmon_vm_info_json(struct kvmon_vm *vm, char **json);

/* ------------------------------------------------- guest-physical memory */

/*
 * Read-only access to guest-physical RAM through one of several backends:
 *
 *   "file"     QEMU's shared RAM file (memory-backend-file,share=on),
 *              mapped PROT_READ: the fastest; reads are a bounds check and
 *              a memcpy.
 *   "process"  any QEMU, no memory option needed: process_vm_readv on the
 *              QEMU process at the host addresses QEMU reports (HMP
 *              gpa2hva). Needs ptrace access to QEMU (root, or QEMU's uid
 *              with kernel.yama.ptrace_scope=0, or CAP_SYS_PTRACE).
 *   "qmp"      HMP `xp` through QMP: needs nothing but the QMP socket;
 *              slow by design (the paper's baseline). The VM handle must
 *              outlive the memory handle.
 *   "dump"     an ELF core (QMP dump-guest-memory), offline.
 *   "raw"      a raw image whose file offset is the guest-physical address.
 */
struct kvmon_mem;

/* Best backend for the VM: "file" if its RAM is in a shared file, else
 * "process". */
KVMON_API struct kvmon_mem *kvmon_mem_open(struct kvmon_vm *vm);
/* A given backend: "file", "process" or "qmp" (NULL = kvmon_mem_open). */
KVMON_API struct kvmon_mem *kvmon_mem_open_backend(struct kvmon_vm *vm,
						   const char *backend);
/*
 * Offline: an ELF core written by dump-guest-memory (PT_LOAD p_paddr is
 * the guest-physical address; headers are checked as hostile input) or,
 * for any other file, a raw image covering guest-physical 0..file size.
 */
KVMON_API struct kvmon_mem *kvmon_mem_open_dump(const char *path);
/* A raw image (offset = gpa) of which only the given ranges (gpa, size)
 * are RAM; layout NULL = the whole file from gpa 0. */
KVMON_API struct kvmon_mem *kvmon_mem_open_raw(const char *path,
					       const struct kvmon_ram_range *layout,
					       size_t n);
KVMON_API void kvmon_mem_close(struct kvmon_mem *mem);
/* Backend in use: "file", "process", "qmp", "dump" or "raw". */
KVMON_API const char *kvmon_mem_backend(const struct kvmon_mem *mem);
/* Total guest RAM bytes. */
KVMON_API uint64_t kvmon_mem_size(const struct kvmon_mem *mem);
/*
 * The guest-physical ranges the handle reads, in address order: fills up
 * to max, stores the total in *count. backend is the RAM block ("dump" /
 * "raw" offline); backend_offset the offset in that block (offline: in the
 * file).
 */
KVMON_API int kvmon_mem_ranges(const struct kvmon_mem *mem,
			       struct kvmon_ram_range *out, size_t max,
			       size_t *count);
/* Copy len bytes at guest-physical gpa; fails (EFAULT) if any byte is not
 * RAM. */
KVMON_API int kvmon_mem_read_phys(struct kvmon_mem *mem, uint64_t gpa, void *buf,
			size_t len);

/* One piece of a batched read. */
struct kvmon_phys_iov {
	uint64_t gpa;
	void *buf;
	size_t len;
};
/* Read n pieces at once (process backend: one process_vm_readv for up to
 * 64 pieces). All are checked before anything is read. */
KVMON_API int kvmon_mem_readv(struct kvmon_mem *mem,
			      const struct kvmon_phys_iov *iov, size_t n);
/*
 * Search guest RAM from gpa `from` upwards for needle (at most 64 KiB).
 * Returns 1 and sets *found_gpa, 0 if not found, -1 on error. Matches
 * spanning two RAM ranges are not reported.
 */
KVMON_API int kvmon_mem_find(struct kvmon_mem *mem, uint64_t from, const void *needle,
		   size_t needle_len, uint64_t *found_gpa);

/*
 * Save guest RAM to a new file (never overwrites one): format "elf" has
 * QEMU write an ELF core (dump-guest-memory, paging=false; QEMU pauses the
 * guest meanwhile), "raw" reads through kvmon_mem_open() and writes each
 * range at offset = gpa (sparse; the guest is paused meanwhile if it was
 * running). timeout_ms <= 0: 10 minutes. Either opens with
 * kvmon_mem_open_dump().
 */
KVMON_API int kvmon_mem_dump(struct kvmon_vm *vm, const char *path,
			     const char *format, int timeout_ms);

/* ------------------------------------------------- the guest's kernel */

/*
 * What the monitor knows of the guest's Linux kernel, learned from guest
 * memory alone (no System.map, no debug symbols): VMCOREINFO for the
 * KASLR offset, phys_base and page-table root; kallsyms for symbols; the
 * kernel's own BTF for struct layouts; a native page walk for addresses.
 */
struct kvmon_kernel;

/* mem must outlive the kernel handle. */
KVMON_API struct kvmon_kernel *kvmon_kernel_open(struct kvmon_mem *mem);

enum kvmon_kernel_flags {
	/* Find the kallsyms tables by their structure in the kernel image
	 * even if VMCOREINFO names them (kernels < 6.0 only have this way). */
	KVMON_KERNEL_CARVE_KALLSYMS = 1u << 0,
};
KVMON_API struct kvmon_kernel *kvmon_kernel_open_flags(struct kvmon_mem *mem,
						       unsigned flags);
KVMON_API void kvmon_kernel_close(struct kvmon_kernel *k);

KVMON_API const char *kvmon_kernel_release(const struct kvmon_kernel *k);
KVMON_API uint64_t kvmon_kernel_kaslr_offset(const struct kvmon_kernel *k);
/* Number of kallsyms symbols. */
KVMON_API size_t kvmon_kernel_symbol_count(const struct kvmon_kernel *k);
/* Address of a kernel symbol (kallsyms name). */
KVMON_API int kvmon_kernel_symbol(const struct kvmon_kernel *k,
				  const char *name, uint64_t *addr);
/* Symbol containing addr, copied into name (size bytes) with the offset. */
KVMON_API int kvmon_kernel_resolve(const struct kvmon_kernel *k, uint64_t addr,
				   char *name, size_t size, uint64_t *offset);
/* Byte offset (and size, may be NULL) of a struct member from BTF;
 * member may be a dotted path ("core_layout.base"). */
KVMON_API int kvmon_kernel_member(const struct kvmon_kernel *k,
				  const char *type, const char *member,
				  uint64_t *offset, uint64_t *size);
/* Translate a kernel virtual address / read kernel virtual memory. */
KVMON_API int kvmon_kernel_translate(struct kvmon_kernel *k, uint64_t va,
				     uint64_t *gpa);
KVMON_API int kvmon_kernel_read(struct kvmon_kernel *k, uint64_t va,
				void *buf, size_t len);
/*
 * How kernel virtual addresses are translated: qmp NULL (default) walks the
 * guest's page tables natively with a translation cache; a QMP connection
 * makes every page ask QEMU (HMP gva2gpa), uncached: the method of the
 * original KVMonitor, kept as the measured baseline (bench/).
 */
KVMON_API int kvmon_kernel_set_translation(struct kvmon_kernel *k,
					   struct kvmon_qmp *qmp);
/* Forget cached translations (call between consistent passes). */
KVMON_API void kvmon_kernel_flush(struct kvmon_kernel *k);

/* One process (thread-group leader) as the guest kernel records it. */
struct kvmon_task {
	uint64_t addr;       /* task_struct address */
	int32_t pid, tgid, ppid;
	uint32_t uid, gid, euid;
	char comm[17];       /* TASK_COMM_LEN + NUL, sanitised */
	char state;          /* R S D T t X Z P I, as ps shows it */
	bool kthread;
	uint64_t start_ns;   /* ns since boot (start_boottime) */
	uint64_t mm;         /* mm_struct address, 0 for kernel threads */
};

/* Hard cap on tasks walked: a list longer than this is an error. */
#define KVMON_MAX_TASKS 65536

/*
 * Walk the task list from init_task. Cycles, dangling pointers and lists
 * that do not close are detected: the walk is retried (the list may have
 * changed under it) and then fails with EPROTO. *tasks is malloc'd; free
 * with kvmon_free.
 */
KVMON_API int kvmon_kernel_tasks(struct kvmon_kernel *k,
				 struct kvmon_task **tasks, size_t *count);
/* Command line of a process, read from its own address space; arguments
 * separated by spaces. Empty for kernel threads. */
KVMON_API int kvmon_kernel_task_cmdline(struct kvmon_kernel *k,
					const struct kvmon_task *t, char *buf,
					size_t size);

struct kvmon_module {
	uint64_t addr;       /* struct module address */
	char name[57];
	uint64_t base;       /* core text/data base */
	uint64_t size;
};

#define KVMON_MAX_MODULES 4096

/* Loaded modules, from the kernel's module list. */
KVMON_API int kvmon_kernel_modules(struct kvmon_kernel *k,
				   struct kvmon_module **mods, size_t *count);

struct kvmon_syscall {
	unsigned nr;
	uint64_t handler;
	char symbol[64];     /* "" if unresolved */
	uint64_t offset;     /* into symbol */
	bool in_core_text;   /* within _stext.._etext */
};

/* The system-call table (sys_call_table), each entry resolved. */
KVMON_API int kvmon_kernel_syscalls(struct kvmon_kernel *k,
				    struct kvmon_syscall **calls,
				    size_t *count);

/* -------------------------------------------------------------- detectors */

enum kvmon_severity {
	KVMON_SEVERITY_INFO = 0,
	KVMON_SEVERITY_WARNING = 1,
	KVMON_SEVERITY_CRITICAL = 2,
};

/* Detectors kvmon_check() can run (bit mask). */
enum kvmon_detector {
	KVMON_DETECT_SYSCALLS = 1u << 0,       /* "syscall_table" */
	KVMON_DETECT_KERNEL_TEXT = 1u << 1,    /* "kernel_text" (needs a baseline) */
	KVMON_DETECT_HIDDEN_PROCESS = 1u << 2, /* "hidden_process" */
	KVMON_DETECT_HIDDEN_MODULE = 1u << 3,  /* "hidden_module" */
	KVMON_DETECT_ALL = 0xfu,
};

struct kvmon_finding {
	const char *detector;  /* detector name, as above */
	int severity;          /* enum kvmon_severity */
	const char *message;   /* one line for people */
	const char *details;   /* JSON object text, detector-specific */
};

struct kvmon_findings;
KVMON_API size_t kvmon_findings_count(const struct kvmon_findings *f);
KVMON_API const struct kvmon_finding *
kvmon_findings_get(const struct kvmon_findings *f, size_t i);
KVMON_API void kvmon_findings_free(struct kvmon_findings *f);

/*
 * Known-good state of the kernel's text and read-only data, taken from the
 * guest at a moment the caller trusts. Sites the kernel legitimately
 * patches at run time (static keys, static calls, ftrace) are recorded and
 * judged by what they may legally contain; every other byte must stay.
 */
struct kvmon_baseline;
KVMON_API struct kvmon_baseline *kvmon_baseline_create(struct kvmon_kernel *k);
/* Save/load (file mode 0600; content protected by a SHA-256 digest and
 * tied to the kernel release and KASLR offset it was taken from). */
KVMON_API int kvmon_baseline_save(const struct kvmon_baseline *b,
				  const char *path);
KVMON_API struct kvmon_baseline *kvmon_baseline_load(const char *path);
KVMON_API void kvmon_baseline_free(struct kvmon_baseline *b);

/*
 * Run the detectors in `detectors` (KVMON_DETECT_*). The text detector
 * runs only with a baseline. Returns 0 and a findings list (possibly empty:
 * a clean guest), -1 if a detector could not run at all.
 */
KVMON_API int kvmon_check(struct kvmon_kernel *k,
			  const struct kvmon_baseline *baseline,
			  unsigned detectors, struct kvmon_findings **out);

/* ================================================================ network */
/*
 * Network monitoring by software port mirroring (docs/network.md).
 * QEMU's filter-mirror copies every frame of a netdev into a unix-socket
 * chardev as [4-byte big-endian length][optional 4-byte vnet header
 * length][frame]. KVMonitor only ever reads that socket: nothing here can
 * inject a frame into the VM's network. Frames come from the guest, so
 * every length and header is checked.
 */

/* Largest frame accepted on the mirror stream (vnet header included): a
 * 64 KiB IP packet (a GSO frame on a tap netdev) with its Ethernet, two
 * VLAN and virtio-net headers fits. */
#define KVMON_NET_MAX_FRAME (65536u + 128u)

/* Incremental decoder of the filter-mirror or filter-dump stream (pure;
 * fuzzed). */
struct kvmon_framer;
struct kvmon_framer_stats {
	uint64_t frames;     /* complete frames delivered */
	uint64_t bytes;      /* their bytes (vnet header excluded) */
	uint64_t zero_len;   /* length-0 records, skipped */
	uint64_t oversize;   /* length > KVMON_NET_MAX_FRAME: stream desync */
	uint64_t bad_vnet;   /* vnet header length > frame length */
	uint64_t truncated;  /* stream ended inside a record */
	uint64_t snapped;    /* pcap records cut by the writer's snap length */
};
/* One frame: data points into the decoder or receiver; valid during the
 * callback only (framer) or until the next call (mirror). */
typedef int (*kvmon_frame_fn)(void *opaque, const uint8_t *frame, size_t len);
KVMON_API struct kvmon_framer *kvmon_framer_new(bool vnet_hdr);
/* Decoder of a pcap byte stream, as QEMU's filter-dump writes it. */
KVMON_API struct kvmon_framer *kvmon_framer_new_pcap(void);
KVMON_API void kvmon_framer_free(struct kvmon_framer *f);
/*
 * Feed stream bytes; calls fn for each complete frame (a non-zero return
 * stops and is returned). -1 (EPROTO) when the stream can no longer be
 * framed (oversize length): the connection must be dropped and the
 * decoder reset.
 */
KVMON_API int kvmon_framer_feed(struct kvmon_framer *f, const uint8_t *buf,
				size_t len, kvmon_frame_fn fn, void *opaque);
/* The peer went away: a partial record is counted as truncated. */
KVMON_API void kvmon_framer_reset(struct kvmon_framer *f);
KVMON_API void kvmon_framer_stats(const struct kvmon_framer *f,
				  struct kvmon_framer_stats *st);

/*
 * Receiver: listens on a unix socket for a filter-mirror chardev (or any
 * sender of the same protocol), decodes in its own thread and queues the
 * frames in a bounded ring. The sender is never blocked for long: when the
 * ring is full, frames are dropped and counted.
 */
struct kvmon_mirror;
struct kvmon_mirror_stats {
	struct kvmon_framer_stats framing;
	uint64_t queued;       /* frames put in the ring */
	uint64_t dropped;      /* frames dropped: ring (or packet socket) full */
	uint64_t connections;  /* sender connections accepted */
	uint64_t rejected;     /* extra concurrent senders refused */
	uint64_t ended;        /* QEMU closed a stream that cannot come back
				  (pipe, socketpair, dump): nothing more will arrive */
};
struct kvmon_frame_info {
	uint64_t ts_ns;   /* CLOCK_REALTIME when received */
	uint32_t len;     /* frame length */
};
/* ring_bytes 0 = 16 MiB; vnet_hdr as filter-mirror's vnet_hdr_support. */
KVMON_API struct kvmon_mirror *kvmon_mirror_listen(const char *socket_path,
						   size_t ring_bytes,
						   bool vnet_hdr);
/*
 * Mirror a running VM's netdev (NULL = "net0") at run time, both
 * directions: QEMU's filter-dump writing pcap into a FIFO of ours (the
 * cheapest for QEMU); else filter-mirror (queue=all) into a chardev: a pipe
 * handed over with QMP add-fd (file chardev), else a socketpair handed
 * over with getfd, else a private socket QEMU connects to
 * (KVMON_MIRROR_TRANSPORT=packet|dump|pipe|socketpair|listen picks the
 * first to try). Frames are copied only until kvmon_mirror_close().
 */
/* A tap netdev is read from its host interface with a packet socket
 * (nothing in QEMU). filter-dump only for netdev types that never carry a
 * virtio-net header (HMP "info network": user, socket, ...); others get
 * filter-mirror with vnet_hdr_support=on, whose headers the receiver
 * strips. kvmon_mirror_id(m, "netdev-type") tells the type. */
KVMON_API struct kvmon_mirror *kvmon_mirror_attach(struct kvmon_vm *vm,
						   const char *netdev,
						   size_t ring_bytes);
/*
 * Next frame, copied into buf (cap >= KVMON_NET_MAX_FRAME is always
 * enough). 1 = frame, 0 = timeout, -1 = error: EMSGSIZE (frame > cap,
 * skipped), EPIPE (the stream ended for good and every frame was read).
 * timeout_ms < 0 waits.
 */
KVMON_API int kvmon_mirror_next(struct kvmon_mirror *m, uint8_t *buf, size_t cap,
				struct kvmon_frame_info *info, int timeout_ms);
/* The same without a copy: *frame points into the ring and stays valid
 * (the receiver does not reuse it) until the next call of either function
 * or kvmon_mirror_close(). One consumer thread. */
KVMON_API int kvmon_mirror_next_ref(struct kvmon_mirror *m, const uint8_t **frame,
				    struct kvmon_frame_info *info, int timeout_ms);
KVMON_API void kvmon_mirror_stats(struct kvmon_mirror *m,
				  struct kvmon_mirror_stats *st);
/* Run the calling thread, a frame consumer, as SCHED_BATCH like the
 * receiver thread (never preempting the VM's QEMU threads on wake-up),
 * unless KVMON_MIRROR_SCHED=normal. 0, or -1 if the policy was refused. */
KVMON_API int kvmon_mirror_sched_consumer(void);
/* The QMP ids used for an attached VM ("chardev" or "filter"), else NULL;
 * "socket": the listening socket's path ("" otherwise); "transport":
 * "packet", "dump", "pipe", "socketpair" or "listen"; "netdev-type": the netdev's
 * type ("user", "tap", ..., "unknown"). */
KVMON_API const char *kvmon_mirror_id(const struct kvmon_mirror *m,
				      const char *what);
/* Detach (object-del, chardev-remove), stop the thread, remove the socket. */
KVMON_API int kvmon_mirror_close(struct kvmon_mirror *m);

/* pcap output (LINKTYPE_ETHERNET, microsecond), optionally rotating. */
struct kvmon_pcap;
/*
 * path "-" or a FIFO works as a stream. rotate_bytes / rotate_seconds
 * (0 = never) start a new file PATH.000001, PATH.000002, ... (the first
 * is PATH.000000 when rotating).
 */
KVMON_API struct kvmon_pcap *kvmon_pcap_open(const char *path, uint64_t rotate_bytes,
					     unsigned rotate_seconds);
/* Over an open fd (not closed by kvmon_pcap_close); never rotates. */
KVMON_API struct kvmon_pcap *kvmon_pcap_fdopen(int fd);
KVMON_API int kvmon_pcap_write(struct kvmon_pcap *p, uint64_t ts_ns,
			       const uint8_t *frame, size_t len);
KVMON_API int kvmon_pcap_flush(struct kvmon_pcap *p);
KVMON_API uint64_t kvmon_pcap_files(const struct kvmon_pcap *p);
KVMON_API int kvmon_pcap_close(struct kvmon_pcap *p);

/* A decoded packet (pure parser; fuzzed). Addresses in network order. */
struct kvmon_pkt {
	uint16_t ethertype;   /* after VLAN tags */
	uint8_t ip_version;   /* 4, 6 or 0 (not IP) */
	uint8_t proto;        /* IPPROTO_TCP/UDP/ICMP/ICMPV6/... */
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* 0 unless TCP/UDP */
	uint8_t tcp_flags;
	const uint8_t *payload; /* L4 payload inside the frame */
	size_t payload_len;
	size_t ip_len;          /* IP packet bytes (as counted in flows) */
	uint32_t tcp_seq;       /* TCP sequence number (0 unless TCP) */
};
/* 0 = parsed (maybe not IP), -1 (EINVAL) = malformed headers. */
KVMON_API int kvmon_pkt_parse(const uint8_t *frame, size_t len,
			      struct kvmon_pkt *pkt);

/* Flow table: bidirectional 5-tuple flows, Zeek conn.log-like JSON lines. */
struct kvmon_flows;
struct kvmon_flow_stats {
	uint64_t packets, malformed, non_ip, flows, evicted;
};
/* max_flows 0 = 65536; idle_s 0 = 60 s. */
KVMON_API struct kvmon_flows *kvmon_flows_new(size_t max_flows, unsigned idle_s);
KVMON_API void kvmon_flows_free(struct kvmon_flows *ft);
/* Account one frame (malformed ones are counted, never an error). */
KVMON_API void kvmon_flows_add(struct kvmon_flows *ft, uint64_t ts_ns,
			       const uint8_t *frame, size_t len);
/* Called with one JSON line (no newline) per finished flow. */
typedef void (*kvmon_flow_fn)(void *opaque, const char *json);
/* Emit flows idle at now_ns (all flows if now_ns == UINT64_MAX). */
KVMON_API void kvmon_flows_expire(struct kvmon_flows *ft, uint64_t now_ns,
				  kvmon_flow_fn fn, void *opaque);
KVMON_API void kvmon_flows_stats(const struct kvmon_flows *ft,
				 struct kvmon_flow_stats *st);

/* Signature rules: a subset of Snort syntax (docs/network.md). */
struct kvmon_rules;
/* Parse and compile (Hyperscan). On error, -1 with the line number. */
KVMON_API struct kvmon_rules *kvmon_rules_parse(const char *text, size_t len);
/* The same with variables given by the caller: a NULL-terminated array of
 * "NAME=VALUE" (as --var; "var NAME VALUE" lines in the text also work). */
KVMON_API struct kvmon_rules *kvmon_rules_parse_vars(const char *text, size_t len,
						     const char *const *defs);
KVMON_API size_t kvmon_rules_count(const struct kvmon_rules *r);
KVMON_API void kvmon_rules_free(struct kvmon_rules *r);
struct kvmon_rule_hit {
	uint32_t sid;
	const char *msg;
	const char *action;   /* "alert", "log", ... */
};
typedef void (*kvmon_rule_fn)(void *opaque, const struct kvmon_rule_hit *hit,
			      const struct kvmon_pkt *pkt);
/* Match one frame; each matching rule is reported once. Returns the number
 * of hits, -1 on a scanner error. Not thread-safe per kvmon_rules. */
KVMON_API int kvmon_rules_match(struct kvmon_rules *r, const uint8_t *frame,
				size_t len, kvmon_rule_fn fn, void *opaque);
/* Details of a hit as the shared alert format's "details" JSON object. */
KVMON_API char *kvmon_rule_hit_json(const struct kvmon_rule_hit *hit,
				    const struct kvmon_pkt *pkt);

/*
 * A TAP interface `name` inside the existing network namespace `netns`
 * (/run/netns/NAME, e.g. made with `ip netns add`; NULL = ours) carrying
 * the mirrored frames as received traffic, for libpcap tools (`-i name`).
 * Frames the capture side transmits on it are read, dropped and counted:
 * they never reach the VM. The interface disappears on kvmon_tap_close().
 */
struct kvmon_tap;
KVMON_API struct kvmon_tap *kvmon_tap_open(const char *name, const char *netns);
/* Deliver one frame; a full kernel queue drops and counts (never blocks). */
KVMON_API int kvmon_tap_write(struct kvmon_tap *t, const uint8_t *frame, size_t len);
/* Frames transmitted by the IDS side (dropped), frames the kernel refused. */
KVMON_API void kvmon_tap_stats(struct kvmon_tap *t, uint64_t *tx_dropped,
			       uint64_t *write_dropped);
KVMON_API void kvmon_tap_close(struct kvmon_tap *t);
/* =========================================================== end network */

/* ===================================================================== disk
 * Reading a VM's disk from the host, read-only, in user space: no kernel
 * mount of guest file systems, no /dev/nbd. Everything on the disk is
 * hostile; parsers are bounded and loops are capped.
 */

struct kvmon_disk;

/*
 * Point-in-time view of a running VM's disk by image fleecing over QMP:
 * a temporary qcow2 overlay catches the guest's writes (copy-before-write)
 * and the frozen view is exported read-only over NBD on a unix socket.
 * node: block node of the disk (NULL: the first disk's node). workdir:
 * where the socket and overlay live (NULL: the VM's run directory, else
 * $TMPDIR). QMP is released after set-up and reconnected on close, which
 * removes the export, job, node, NBD server and files again.
 */
KVMON_API struct kvmon_disk *kvmon_disk_open_vm(struct kvmon_vm *vm,
						const char *node,
						const char *workdir);
/*
 * An image at rest (VM stopped): served read-only by a qemu-nbd child
 * (socket activation; the child exits with the handle). format "qcow2",
 * "raw" or NULL (qcow2 if it has the qcow2 magic, else raw: never probed
 * by QEMU).
 */
KVMON_API struct kvmon_disk *kvmon_disk_open_image(const char *path,
						   const char *format);
/* A raw image or block device read directly with pread (O_RDONLY). */
KVMON_API struct kvmon_disk *kvmon_disk_open_raw(const char *path);
/* The NBD client library (libnbd) is loaded on first use, not at process
 * start; this starts loading it on a background thread, to overlap with
 * the caller's own set-up before a disk open (optional, best effort). */
KVMON_API void kvmon_disk_preload(void);
/* Close; tears down whatever the open created. */
KVMON_API int kvmon_disk_close(struct kvmon_disk *d);
/* Remove what fleecing exports of dead owners (SIGKILL, crash) left in
 * the VM's QEMU and on the host; every open does this too. */
KVMON_API int kvmon_disk_sweep(struct kvmon_vm *vm);
KVMON_API uint64_t kvmon_disk_size(const struct kvmon_disk *d);
/* Read len bytes at off; EINVAL past the end. Thread-safe. */
KVMON_API int kvmon_disk_read(struct kvmon_disk *d, uint64_t off, void *buf,
			      size_t len);

/* One partition or volume (bytes, relative to the disk). */
struct kvmon_partition {
	unsigned index;     /* 1-based, as Linux numbers them */
	uint64_t start;
	uint64_t size;
	char scheme[8];     /* "mbr", "gpt" or "lvm" (kvmon_disk_volumes) */
	char type[40];      /* "0x83" (MBR) or the GPT type GUID */
	char name[80];      /* GPT name (ASCII-safe), else "" */
};
#define KVMON_MAX_PARTITIONS 128
/*
 * MBR (with logical partitions in an extended one) or GPT. 0 partitions
 * and return 0 when there is no table (a bare file system).
 */
KVMON_API int kvmon_disk_partitions(struct kvmon_disk *d,
				    struct kvmon_partition *out, size_t max,
				    size_t *count);
/*
 * Partitions (as above), then the LVM2 logical volumes of PVs on the whole
 * disk or in any partition: scheme "lvm", index 0, name "vg/lv", type
 * "linear" or the segment type that cannot be read ("striped", "thin",
 * "raid1", "snapshot", ...), size the LV's, start its first extent's.
 */
KVMON_API int kvmon_disk_volumes(struct kvmon_disk *d,
				 struct kvmon_partition *out, size_t max,
				 size_t *count);
/*
 * One volume as a read-only disk of its own: name "vg/lv" (a linear LV,
 * its segments mapped in order; ENOTSUP for other types) or a partition
 * number "N". Reads go to d, which must stay open until this is closed
 * with kvmon_disk_close(); kvmon_fs_open(view, 0, 0) opens its fs.
 */
KVMON_API struct kvmon_disk *kvmon_disk_open_volume(struct kvmon_disk *d,
						    const char *name);
/*
 * Logical sector size for partition tables: 512 or 4096 (0: detect). By
 * default a GPT is looked for with 512-byte sectors, then with 4096 (4Kn
 * disks), and the one found sets the size; an MBR counts 512-byte LBAs
 * unless the size was set or a raw block device reports 4096.
 */
KVMON_API int kvmon_disk_set_sector_size(struct kvmon_disk *d, unsigned size);
/* The size set or detected so far (512 until known). */
KVMON_API unsigned kvmon_disk_sector_size(const struct kvmon_disk *d);

/* ext2/3/4 file system, read through libext2fs (never written). */
struct kvmon_fs;

/* File system at [offset, offset+size) of the disk (size 0: to the end). */
KVMON_API struct kvmon_fs *kvmon_fs_open(struct kvmon_disk *d, uint64_t offset,
					 uint64_t size);
/* partition 0: whole disk if it has no table, else the first partition
 * holding an ext file system; N: partition N. */
/* (partition 0 then tries the linear LVM2 volumes in order; the fs owns
 * the volume view it opened.) */
KVMON_API struct kvmon_fs *kvmon_fs_open_part(struct kvmon_disk *d,
					      unsigned partition);
KVMON_API void kvmon_fs_close(struct kvmon_fs *fs);

struct kvmon_fs_stat {
	uint64_t ino;
	uint32_t mode;      /* S_IF* | permissions */
	uint32_t uid, gid;
	uint32_t nlink;
	uint64_t size;
	uint64_t blocks;    /* 512-byte units */
	int64_t atime, mtime, ctime;
	uint32_t atime_ns, mtime_ns, ctime_ns;
	uint32_t rdev;
};
#define KVMON_FS_ROOT_INO 2
/* Inode of path (absolute in the guest file system); intermediate
 * symlinks are followed, the last one is not. ENOENT if missing. */
KVMON_API int kvmon_fs_lookup(struct kvmon_fs *fs, const char *path,
			      uint64_t *ino);
KVMON_API int kvmon_fs_stat(struct kvmon_fs *fs, uint64_t ino,
			    struct kvmon_fs_stat *st);
/* Called per entry ("." and ".." excluded); non-zero stops the walk and
 * is returned. type is a DT_* value. */
typedef int (*kvmon_fs_dirent_fn)(void *opaque, const char *name,
				  uint64_t ino, unsigned type);
KVMON_API int kvmon_fs_readdir(struct kvmon_fs *fs, uint64_t dir_ino,
			       kvmon_fs_dirent_fn fn, void *opaque);
/* Read up to len bytes of a regular file at off; returns bytes read. */
KVMON_API ssize_t kvmon_fs_pread(struct kvmon_fs *fs, uint64_t ino, void *buf,
				 size_t len, uint64_t off);
/* Symlink target into buf (NUL-terminated); returns its length. */
KVMON_API ssize_t kvmon_fs_readlink(struct kvmon_fs *fs, uint64_t ino,
				    char *buf, size_t size);
/* Extended attributes, like listxattr(2)/getxattr(2): buf NULL or size 0
 * returns the size needed; ERANGE if buf is too small; ENODATA if the
 * attribute does not exist. Names are "user.x", "security.selinux", ... */
KVMON_API ssize_t kvmon_fs_listxattr(struct kvmon_fs *fs, uint64_t ino,
				     char *buf, size_t size);
KVMON_API ssize_t kvmon_fs_getxattr(struct kvmon_fs *fs, uint64_t ino,
				    const char *name, void *buf, size_t size);
/* Block size, block count and free blocks; inode count and free inodes. */
KVMON_API int kvmon_fs_statfs(struct kvmon_fs *fs, uint64_t *bsize,
			      uint64_t *blocks, uint64_t *bfree,
			      uint64_t *files, uint64_t *ffree);
/* "file", "dir", "symlink", "chardev", "blockdev", "fifo", "socket" or
 * "unknown" for the S_IFMT bits of mode (the names kvmon reports). */
KVMON_API const char *kvmon_fs_type_name(uint32_t mode);

/* ----------------------------------------------- changed-part-only view
 * Which files changed since a baseline, from a persistent QEMU dirty
 * bitmap (the baseline marker) and a block map of the file system taken
 * at the same instant. See docs/disk.md.
 */

/* Options for a point-in-time view of a running VM's disk. */
struct kvmon_disk_opts {
	const char *node;     /* as kvmon_disk_open_vm(); NULL = first disk */
	const char *workdir;  /* as kvmon_disk_open_vm() */
	const char *track;    /* NULL, or: create a persistent dirty bitmap of
				 this name on the disk node in the SAME QMP
				 transaction as the snapshot (it records
				 exactly the guest writes after this
				 snapshot). EEXIST if it already exists. */
	const char *since;    /* NULL, or: bitmap whose writes up to this
				 snapshot kvmon_disk_dirty() exposes (a frozen
				 copy made in the same transaction). ENOENT if
				 it does not exist. */
	uint32_t granularity; /* of the track bitmap, bytes: a power of two
				 >= 512; 0 = KVMON_DISK_GRANULARITY (the usual
				 file system block: a dirty range then names
				 only the blocks written, not their 64 KiB
				 neighbourhood). EINVAL otherwise. */
};
#define KVMON_DISK_GRANULARITY 4096u
KVMON_API struct kvmon_disk *kvmon_disk_open_vm_opts(struct kvmon_vm *vm,
						     const struct kvmon_disk_opts *o);
/* Remove a dirty bitmap (baseline marker) from the VM's disk node
 * (node NULL: the first disk). */
KVMON_API int kvmon_disk_bitmap_remove(struct kvmon_vm *vm, const char *node,
				       const char *name);
/* Dirty byte ranges of this view since opts.since, sorted and merged; fn
 * is called per range (non-zero return stops and is returned). -1/ENODATA
 * if the view was not opened with since. Ranges may be coarsened (a
 * superset) when the bitmap is very fragmented, never shrunk. */
typedef int (*kvmon_disk_extent_fn)(void *opaque, uint64_t off, uint64_t len);
KVMON_API int kvmon_disk_dirty(struct kvmon_disk *d, kvmon_disk_extent_fn fn,
			       void *opaque);

/* Baseline map of a file system at a snapshot: every inode's blocks
 * (block -> owning inodes, incl. extent-tree index, indirect and xattr
 * blocks), the inode-table locations, and the directory tree. On a view
 * opened with opts.track, the disk node and that bitmap are recorded. */
struct kvmon_fsmap;
KVMON_API struct kvmon_fsmap *kvmon_fsmap_build(struct kvmon_fs *fs);
/* Record which dirty bitmap on which disk node marks this baseline. */
KVMON_API int kvmon_fsmap_set_marker(struct kvmon_fsmap *m, const char *node,
				     const char *bitmap);
/* The recorded node and bitmap ("" if none). */
KVMON_API const char *kvmon_fsmap_node(const struct kvmon_fsmap *m);
KVMON_API const char *kvmon_fsmap_bitmap(const struct kvmon_fsmap *m);
/* Granularity in bytes of the recorded bitmap (0: not known). */
KVMON_API uint32_t kvmon_fsmap_granularity(const struct kvmon_fsmap *m);
/* Atomic (temporary file + fsync + rename). */
KVMON_API int kvmon_fsmap_save(const struct kvmon_fsmap *m, const char *path);
/* Hostile file: bounded and validated; EINVAL if malformed. */
KVMON_API struct kvmon_fsmap *kvmon_fsmap_load(const char *path);
KVMON_API void kvmon_fsmap_free(struct kvmon_fsmap *m);

enum kvmon_change {
	KVMON_CHANGE_SAME = 0,   /* proven unchanged: its inode, its blocks and
				    its parent directory are all clean */
	KVMON_CHANGE_MAYBE = 1,  /* inode or data touched: re-examine (re-stat;
				    re-hash if why has KVMON_WHY_DATA) */
	KVMON_CHANGE_ADDED = 2,  /* path not in the baseline */
	KVMON_CHANGE_REMOVED = 3 /* path in the baseline, gone now */
};
#define KVMON_WHY_INODE 1u        /* its inode-table block is dirty */
#define KVMON_WHY_DATA 2u         /* one of its data/extent/xattr blocks is dirty */
#define KVMON_WHY_DIR 4u          /* its parent directory's entries changed */
#define KVMON_WHY_UNATTRIBUTED 8u /* a dirty block could not be attributed;
				     treated as changed, never ignored */
/*
 * Walk the current file system guided by the baseline map and the dirty
 * ranges of d (opened with since = the bitmap made with the map): only
 * dirty directories are read from disk (clean ones come from the map).
 * fn is called once per path (absolute, "/etc/passwd") with its status;
 * REMOVED paths carry the baseline inode. A rename is REMOVED old + ADDED
 * new. Every path of the current tree is reported exactly once
 * (SAME/MAYBE/ADDED), plus every removed one. fs must be on d.
 */
typedef int (*kvmon_change_fn)(void *opaque, const char *path, uint64_t ino,
			       int change, unsigned why);
KVMON_API int kvmon_fs_changes(struct kvmon_fs *fs, struct kvmon_disk *d,
			       const struct kvmon_fsmap *base,
			       kvmon_change_fn fn, void *opaque);

/* ===================================================================== fim
 * Offloaded file-integrity checking (docs/fim.md): AIDE-like rules select
 * paths of a guest file system and the attributes recorded for them; a scan
 * hashes in parallel; the baseline database lives on the host, protected by
 * HMAC-SHA-256 and written atomically.
 */
#define KVMON_FIM_TYPE   0x0001u  /* file type */
#define KVMON_FIM_PERM   0x0002u  /* permission bits (07777) */
#define KVMON_FIM_UID    0x0004u
#define KVMON_FIM_GID    0x0008u
#define KVMON_FIM_SIZE   0x0010u
#define KVMON_FIM_MTIME  0x0020u
#define KVMON_FIM_CTIME  0x0040u
#define KVMON_FIM_INODE  0x0080u
#define KVMON_FIM_LINKS  0x0100u  /* link count */
#define KVMON_FIM_XATTRS 0x0200u  /* SHA-256 over all names and values */
#define KVMON_FIM_SHA256 0x0400u  /* regular files' contents */
#define KVMON_FIM_SHA512 0x0800u
#define KVMON_FIM_LNAME  0x1000u  /* symlink target */
#define KVMON_FIM_ALL    0x1fffu

struct kvmon_fim_config;
/* Parse a configuration (text, at most 1 MiB); errors name the line. */
KVMON_API struct kvmon_fim_config *kvmon_fim_config_parse(const char *text,
							  size_t len);
KVMON_API struct kvmon_fim_config *kvmon_fim_config_load(const char *path);
KVMON_API void kvmon_fim_config_free(struct kvmon_fim_config *c);
/* Attributes recorded for path (0: not selected). *descend: walk below
 * it (a directory not excluded by a negative rule). */
KVMON_API unsigned kvmon_fim_config_match(const struct kvmon_fim_config *c,
					  const char *path, bool *descend);
/* SHA-256 (hex) of the configuration text: a baseline is only reused
 * incrementally under the rules it was made with. */
KVMON_API const char *kvmon_fim_config_id(const struct kvmon_fim_config *c);
/* "p+u+sha256" -> attribute bits (predefined groups allowed); -1 on error. */
KVMON_API int kvmon_fim_attrs_parse(const char *expr, unsigned *attrs);

struct kvmon_fim_db;
struct kvmon_fim_scan_opts {
	unsigned jobs;  /* hashing threads (0: number of online CPUs) */
	/* Called now and then (from any thread, serialised). */
	void (*progress)(void *opaque, uint64_t files, uint64_t bytes);
	void *opaque;
};
/* Walk fs from / with the rules of c and record every selected path. */
KVMON_API struct kvmon_fim_db *kvmon_fim_scan(struct kvmon_fs *fs,
					      const struct kvmon_fim_config *c,
					      const struct kvmon_fim_scan_opts *o);
KVMON_API size_t kvmon_fim_db_count(const struct kvmon_fim_db *db);
/* Free-form metadata carried by the database (name: [a-z0-9_-]{1,32},
 * value: printable, at most 1 KiB). get returns NULL if absent. */
KVMON_API int kvmon_fim_db_set_meta(struct kvmon_fim_db *db, const char *name,
				    const char *value);
KVMON_API const char *kvmon_fim_db_get_meta(const struct kvmon_fim_db *db,
					    const char *name);
/* Save (temp file in the same directory + fsync + rename + fsync of the
 * directory; mode 0600) with an HMAC-SHA-256 under key. */
KVMON_API int kvmon_fim_db_save(const struct kvmon_fim_db *db, const char *path,
				const unsigned char *key, size_t keylen);
/* Load; EBADMSG if the MAC does not verify (tampered or other key). */
KVMON_API struct kvmon_fim_db *kvmon_fim_db_load(const char *path,
						 const unsigned char *key,
						 size_t keylen);
/* The same, returning once the MAC has been checked over the whole file
 * and the metadata parsed; the entries are parsed on a background thread
 * meanwhile. kvmon_fim_db_wait() waits for them (0, or -1 if they are
 * malformed: EBADMSG); the functions that read entries (count, compare,
 * save, scan_changes) and free wait themselves. */
KVMON_API struct kvmon_fim_db *kvmon_fim_db_load_bg(const char *path,
						    const unsigned char *key,
						    size_t keylen);
/* The same, but the entries are parsed by the first kvmon_fim_db_wait()
 * (or function that waits), in the thread that calls it; other callers
 * wait for that. For a caller that has a thread of its own to give it. */
KVMON_API struct kvmon_fim_db *kvmon_fim_db_load_deferred(const char *path,
							  const unsigned char *key,
							  size_t keylen);
KVMON_API int kvmon_fim_db_wait(const struct kvmon_fim_db *db);
KVMON_API void kvmon_fim_db_free(struct kvmon_fim_db *db);
#define KVMON_FIM_KEY_LEN 32
/* Read the key file (exactly 32 bytes); if create and it does not exist,
 * make one (mode 0600, RAND_bytes). */
KVMON_API int kvmon_fim_key_load(const char *path, bool create,
				 unsigned char key[KVMON_FIM_KEY_LEN]);

enum kvmon_fim_kind {
	KVMON_FIM_ADDED = 1,
	KVMON_FIM_REMOVED = 2,
	KVMON_FIM_CHANGED = 3
};
/* One finding: path, kind, the attributes that changed (CHANGED), and a
 * JSON object text {"path":..,"change":..,"attrs":{"mode":{"old":..,
 * "new":..},..}}. Non-zero return stops compare and is returned. */
typedef int (*kvmon_fim_finding_fn)(void *opaque, const char *path, int kind,
				    unsigned changed, const char *details);
/* Findings of now against the baseline, in path order. Attributes are
 * compared where both recorded them. Returns 0, or fn's return. */
KVMON_API int kvmon_fim_compare(const struct kvmon_fim_db *base,
				const struct kvmon_fim_db *now,
				kvmon_fim_finding_fn fn, void *opaque);
/*
 * Incremental scan: the same database kvmon_fim_scan would produce, from
 * kvmon_fs_changes() over d (a view opened with since = the bitmap that
 * marks base's snapshot) and the block map map taken with base. Paths
 * proven unchanged (SAME) are copied from base without being read; the
 * others are re-stat'ed, and re-hashed when their data may have changed.
 */
struct kvmon_fim_incr_stats {
	uint64_t paths;     /* selected paths in the result */
	uint64_t copied;    /* taken from the baseline unread */
	uint64_t examined;  /* re-stat'ed (MAYBE, ADDED) */
	uint64_t hashed;    /* files re-hashed */
	uint64_t walk_us;   /* changed-path walk (dirty inodes, directories) */
	uint64_t hash_us;   /* re-stat'ed files hashed */
};
KVMON_API struct kvmon_fim_db *
kvmon_fim_scan_changes(struct kvmon_fs *fs, struct kvmon_disk *d,
		       const struct kvmon_fsmap *map,
		       const struct kvmon_fim_config *c,
		       const struct kvmon_fim_db *base,
		       const struct kvmon_fim_scan_opts *o,
		       struct kvmon_fim_incr_stats *st);
/* ================================================================= end fim */

/* ================================================================ cages
 * Performance isolation (issue 6): a VM's QEMU and its offloaded IDS as
 * one resource unit in cgroups (v1, v2 and hybrid hosts), and the balloon
 * performer that moves memory from the VM to the IDS. See docs/cages.md.
 */

enum kvmon_cg_mode {
	KVMON_CG_NONE = 0,   /* no usable cgroup controllers */
	KVMON_CG_V1 = 1,     /* legacy hierarchies only */
	KVMON_CG_V2 = 2,     /* unified hierarchy only */
	KVMON_CG_HYBRID = 3, /* v1 controllers plus a cgroup2 mount */
};

/* The host's cgroup layout, as this process sees it. */
struct kvmon_cgsys;
/* Detect from a mountinfo file and a /proc/PID/cgroup file (NULL: those of
 * this process). Cages go beneath this process's own cgroup per hierarchy
 * unless a parent is set. */
KVMON_API struct kvmon_cgsys *kvmon_cgsys_open(const char *mountinfo,
					       const char *self_cgroup);
KVMON_API void kvmon_cgsys_close(struct kvmon_cgsys *sys);
KVMON_API int kvmon_cgsys_mode(const struct kvmon_cgsys *sys);
KVMON_API const char *kvmon_cgsys_mode_name(int mode);
/* Put cages beneath this cgroup path ("/kvmon") in every hierarchy
 * instead; the directory must exist. */
KVMON_API int kvmon_cgsys_set_parent(struct kvmon_cgsys *sys, const char *path);
/* Directory of the resource "cpu", "cpuacct" or "memory" cages go under. */
KVMON_API const char *kvmon_cgsys_dir(const struct kvmon_cgsys *sys,
				      const char *resource);

/* A cage: cgroup directory "kvmon-NAME" in each hierarchy it needs. */
struct kvmon_cage;
#define KVMON_CAGE_EXCL 1u /* create: fail with EEXIST if it exists */
KVMON_API struct kvmon_cage *kvmon_cage_create(struct kvmon_cgsys *sys,
					       const char *name, unsigned flags);
/* Open an existing cage (ENOENT if it is missing in any hierarchy). */
KVMON_API struct kvmon_cage *kvmon_cage_open(struct kvmon_cgsys *sys,
					     const char *name);
/* An existing cgroup kvmon did not create (systemd, libvirt), as a path in
 * the hierarchy ("/machine.slice/x.scope") or a directory under a cgroup
 * mount; for stats and limits only: kvmon_cage_remove refuses it (EPERM). */
KVMON_API struct kvmon_cage *kvmon_cage_open_cgroup(struct kvmon_cgsys *sys,
						    const char *path);
KVMON_API void kvmon_cage_close(struct kvmon_cage *cage);
KVMON_API const char *kvmon_cage_name(const struct kvmon_cage *cage);
/* Directory holding the given resource ("cpu", "cpuacct", "memory"). */
KVMON_API const char *kvmon_cage_dir(const struct kvmon_cage *cage,
				     const char *resource);
/* Remove the cage's directories; EBUSY while it has members, unless
 * KVMON_CAGE_EVICT moves them to the parent cgroup first. Closes cage on
 * success. */
#define KVMON_CAGE_EVICT 1u
KVMON_API int kvmon_cage_remove(struct kvmon_cage *cage, unsigned flags);

/* CPU weight on the v2 scale 1..10000 (default 100); v1: shares =
 * weight * 1024 / 100. */
KVMON_API int kvmon_cage_set_cpu_weight(struct kvmon_cage *cage,
					uint64_t weight);
/* CPU cap: quota_us per period_us (quota < 0: no cap). */
KVMON_API int kvmon_cage_set_cpu_max(struct kvmon_cage *cage, int64_t quota_us,
				     uint64_t period_us);
#define KVMON_CAGE_UNLIMITED (-1)
#define KVMON_CAGE_KEEP (-2)
/* Memory limit, page cache included (v1 memory.limit_in_bytes, v2
 * memory.max), and v2 memory.high; KVMON_CAGE_UNLIMITED or KVMON_CAGE_KEEP.
 * high on v1 fails with ENOTSUP. */
KVMON_API int kvmon_cage_set_memory(struct kvmon_cage *cage, int64_t max,
				    int64_t high);
/* Move a process (0: the caller) into the cage in every hierarchy; on a
 * failure it is moved back, so nothing is half-applied. */
KVMON_API int kvmon_cage_add_pid(struct kvmon_cage *cage, pid_t pid);
/* Member processes (malloc'd array). */
KVMON_API int kvmon_cage_pids(struct kvmon_cage *cage, pid_t **pids, size_t *n);

struct kvmon_cage_stats {
	uint64_t cpu_ns;       /* CPU time of all members, ever */
	uint64_t mem_current;  /* charged memory, page cache included */
	uint64_t mem_anon;     /* anonymous memory */
	uint64_t mem_file;     /* page cache, shmem excluded */
	uint64_t mem_shmem;    /* shmem/tmpfs (e.g. guest RAM in /dev/shm) */
	int64_t mem_max;       /* limit, -1 if none */
	uint64_t nr_throttled; /* CFS periods the cap throttled */
};
KVMON_API int kvmon_cage_stats(struct kvmon_cage *cage,
			       struct kvmon_cage_stats *st);

/* Per-process view for cage members (from /proc/PID). */
struct kvmon_proc_stats {
	pid_t pid;
	char comm[17];
	uint64_t cpu_ns;
	uint64_t rss_anon, rss_file, rss_shmem;
};
KVMON_API int kvmon_proc_stats(pid_t pid, struct kvmon_proc_stats *st);

/* ------------------------------------------------------ cages: balloon */

/* Guest size the balloon currently gives the VM (query-balloon actual). */
KVMON_API int kvmon_balloon_get(struct kvmon_vm *vm, uint64_t *actual);
/* Set the guest size to target bytes and wait up to timeout_ms until the
 * guest reports it (within 1 MiB). On a timeout the previous size is
 * requested again and -1/ETIMEDOUT returned; no balloon driver: ENODEV. */
KVMON_API int kvmon_balloon_set(struct kvmon_vm *vm, uint64_t target,
				int timeout_ms);
/* Ask for target bytes and return at once (range-checked as for set); a
 * newer request supersedes one the guest is still working on. */
KVMON_API int kvmon_balloon_request(struct kvmon_vm *vm, uint64_t target);
/* Guest size now: waits up to timeout_ms for a BALLOON_CHANGE event and
 * returns 1 with the newest one's size, else 0 with query-balloon's
 * (QEMU sends at most one such event a second). Keeps the QMP connection. */
KVMON_API int kvmon_balloon_wait(struct kvmon_vm *vm, int timeout_ms,
				 uint64_t *actual);
/* Memory the VM has really given up toward a request: base minus the
 * larger of target and actual size. The IDS may be given this much. */
KVMON_API uint64_t kvmon_balloon_given(uint64_t base, uint64_t target,
				       uint64_t actual);

/* The performer's decision, a pure function (unit-tested). */
struct kvmon_balloon_policy {
	uint64_t base;       /* VM size with nothing moved */
	uint64_t floor;      /* never squeeze the VM below this */
	uint64_t hysteresis; /* ignore changes smaller than this */
};
struct kvmon_balloon_step {
	uint64_t target;     /* VM size to request */
	uint64_t moved;      /* base - target: what the IDS gets */
	bool change;         /* target differs enough from the current one */
	bool at_floor;       /* IDS wanted more than the floor allows */
};
KVMON_API int kvmon_balloon_plan(const struct kvmon_balloon_policy *p,
				 uint64_t ids_usage, uint64_t current_target,
				 struct kvmon_balloon_step *out);
/* ============================================================ end cages */
#ifdef __cplusplus
}
#endif
#endif /* KVMON_H */
