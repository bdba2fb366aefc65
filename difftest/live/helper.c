/*
 * ptediff live backend: the helper behind `--impl linux`.
 *
 * Built at first use with the system compiler (ptediff.live.build) and cached per user.
 * Two modes:
 *
 *   helper serve FD OFF_MM OFF_PGD PAGE_OFFSET_BASE
 *       A simulated process. Serves commands from the SOCK_SEQPACKET socket FD (moved to fd 3):
 *       one text request per message, one text reply. Real CPU loads and stores that survive
 *       SIGSEGV (sigsetjmp), mmap/munmap/mprotect/madvise/mlock/munlock/mremap, fork (the child is served on a socket
 *       passed with the request), exit, extra threads for parallel blocks (each served on its
 *       own passed socket), and the pte of an address read by a BPF program run with
 *       BPF_PROG_TEST_RUN in this process's own context (current->mm->pgd, walked with
 *       bpf_probe_read_kernel; OFF_MM/OFF_PGD come from BTF, PAGE_OFFSET_BASE from the
 *       controller). It exits when the controller's end of its socket closes, so a dead
 *       controller leaves no process behind.
 *
 *   helper guard DIR
 *       The crash guard. Ignores terminal signals, leaves the process group, waits for EOF on
 *       stdin (the controller closing it, or dying), then swaps off every swap area whose file
 *       is under DIR, removes the files and DIR.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHANNEL_FD 3
#define BPF_FD 4
#define PAGE 4096UL
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif

static __thread sigjmp_buf fault_jump;
static __thread volatile int fault_armed;
static uint64_t ctx_args[4]; /* vaddr, page_offset_base, offsetof(task, mm), offsetof(mm, pgd) */
static int bpf_error;

static void on_fault(int sig)
{
    if (fault_armed) {
        fault_armed = 0;
        siglongjmp(fault_jump, sig);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* A real CPU access: 0, or the signal it raised. */
static int access_page(uint64_t addr, int write, uint64_t *value)
{
    int sig = sigsetjmp(fault_jump, 1);
    if (sig)
        return sig;
    fault_armed = 1;
    if (write)
        *(volatile uint64_t *)addr = *value;
    else
        *value = *(volatile uint64_t *)addr;
    fault_armed = 0;
    return 0;
}

/* ---- BPF page-table reader ------------------------------------------------------------- */
#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define MOV64_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ALU64_IMM(op, d, i) INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define ALU64_REG(op, d, s) INSN(BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define LDX64(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define JMP_IMM(op, d, i, o) INSN(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define CALL(f) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LD_IMM64(d, v) INSN(BPF_LD | BPF_DW | BPF_IMM, d, 0, 0, (int32_t)(uint32_t)(v)), \
                       INSN(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))
/* r1 = fp-8, r2 = 8, r3 = address already set: read 8 kernel bytes to fp-8; bail out on error */
#define READ8() MOV64_REG(1, 10), ALU64_IMM(BPF_ADD, 1, -8), MOV64_IMM(2, 8), \
                CALL(BPF_FUNC_probe_read_kernel), JMP_IMM(BPF_JNE, 0, 0, FAIL_JUMP)

static int load_pte_reader(void)
{
    /* Returns the low 32 bits of the pte mapping ctx[0] in the current mm, 0xfffffffe when an
     * upper level is not present or a huge leaf, 0xffffffff when a read failed. */
    enum { FAIL_JUMP = 0 }; /* patched below: every READ8 jumps to the common fail exit */
    struct bpf_insn prog[160];
    int n = 0, fails[16], nfails = 0, notpresent[8], nnp = 0;
#define EMIT(...) do { struct bpf_insn tmp[] = {__VA_ARGS__}; \
        memcpy(prog + n, tmp, sizeof(tmp)); n += sizeof(tmp) / sizeof(tmp[0]); } while (0)
#define EMIT_READ() do { EMIT(READ8()); fails[nfails++] = n - 1; } while (0)
    EMIT(MOV64_REG(6, 1), CALL(BPF_FUNC_get_current_task), MOV64_REG(3, 0), LDX64(1, 6, 16),
         ALU64_REG(BPF_ADD, 3, 1));
    EMIT_READ();
    EMIT(LDX64(3, 10, -8), JMP_IMM(BPF_JEQ, 3, 0, 0));
    fails[nfails++] = n - 1;
    EMIT(LDX64(1, 6, 24), ALU64_REG(BPF_ADD, 3, 1));
    EMIT_READ();
    EMIT(LDX64(7, 10, -8), LDX64(8, 6, 8), LDX64(9, 6, 0));
    static const int shifts[4] = {39, 30, 21, 12};
    for (int level = 0; level < 4; level++) {
        EMIT(MOV64_REG(3, 9), ALU64_IMM(BPF_RSH, 3, shifts[level]), ALU64_IMM(BPF_AND, 3, 511),
             ALU64_IMM(BPF_LSH, 3, 3), ALU64_REG(BPF_ADD, 3, 7));
        EMIT_READ();
        EMIT(LDX64(1, 10, -8));
        if (level == 3)
            break;
        EMIT(MOV64_REG(2, 1), ALU64_IMM(BPF_AND, 2, 1), JMP_IMM(BPF_JEQ, 2, 0, 0));
        notpresent[nnp++] = n - 1;
        EMIT(MOV64_REG(2, 1), ALU64_IMM(BPF_AND, 2, 0x80), JMP_IMM(BPF_JNE, 2, 0, 0));
        notpresent[nnp++] = n - 1;
        EMIT(LD_IMM64(2, 0x000ffffffffff000ULL), MOV64_REG(7, 1), ALU64_REG(BPF_AND, 7, 2),
             ALU64_REG(BPF_ADD, 7, 8));
    }
    EMIT(MOV64_REG(0, 1), ALU64_IMM(BPF_AND, 0, -1), EXIT());
    /* ALU64 AND with imm -1 sign-extends to all ones: keep the value; the u32 retval truncates */
    int np_exit = n;
    EMIT(LD_IMM64(0, 0xfffffffeU), EXIT());
    int fail_exit = n;
    EMIT(LD_IMM64(0, 0xffffffffU), EXIT());
    for (int i = 0; i < nfails; i++)
        prog[fails[i]].off = fail_exit - fails[i] - 1;
    for (int i = 0; i < nnp; i++)
        prog[notpresent[i]].off = np_exit - notpresent[i] - 1;

    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_RAW_TRACEPOINT;
    attr.insns = (uint64_t)(uintptr_t)prog;
    attr.insn_cnt = n;
    attr.license = (uint64_t)(uintptr_t)"GPL";
    int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    return fd < 0 ? -errno : fd;
}

/* The pte's low 32 bits as a decimal reply, or a negative errno. */
static long long read_pte(uint64_t addr)
{
    if (bpf_error)
        return bpf_error;
    uint64_t ctx[4] = {addr, ctx_args[1], ctx_args[2], ctx_args[3]};
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.test.prog_fd = BPF_FD;
    attr.test.ctx_in = (uint64_t)(uintptr_t)ctx;
    attr.test.ctx_size_in = sizeof(ctx);
    if (syscall(SYS_bpf, BPF_PROG_TEST_RUN, &attr, sizeof(attr)) < 0)
        return -errno;
    return attr.test.retval;
}

/* ---- command server --------------------------------------------------------------------- */
static int prot_of(const char *name)
{
    if (!strcmp(name, "rw"))
        return PROT_READ | PROT_WRITE;
    if (!strcmp(name, "r"))
        return PROT_READ;
    return PROT_NONE;
}

static void reply(int fd, const char *fmt, long long a, long long b)
{
    char out[64];
    int len = snprintf(out, sizeof(out), fmt, a, b);
    if (send(fd, out, len, MSG_NOSIGNAL) < 0)
        _exit(0); /* the controller is gone */
}

static void *serve(void *arg);

/* A thread of a parallel block, served on its own channel, free to run on the CPUs in `mask`
 * (the process itself stays pinned to one CPU, see ptediff.live.runner). */
static void start_thread(int fd, unsigned long long mask)
{
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (mask) {
        cpu_set_t cpus;
        CPU_ZERO(&cpus);
        for (int cpu = 0; cpu < 64; cpu++)
            if (mask >> cpu & 1)
                CPU_SET(cpu, &cpus);
        pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
    }
    pthread_create(&thread, &attr, serve, (void *)(intptr_t)fd);
}

/* Empty every CPU's folio batches into the LRU before a pageout. A freshly faulted page sits
 * in the batch of the CPU that faulted it until that CPU drains it; MADV_PAGEOUT skips a page
 * that is not on the LRU and drains only the local CPU's batch. Userspace has no call that
 * drains them all (mlock no longer does), so this thread visits each CPU in turn and makes a
 * madvise(MADV_COLD) call there, which drains that CPU's batch (on a private scratch page,
 * outside the program's window). */
static char drain_page[PAGE] __attribute__((aligned(PAGE)));
static cpu_set_t all_cpus;
static void drain_lru_batches(void)
{
    cpu_set_t mine;
    if (pthread_getaffinity_np(pthread_self(), sizeof(mine), &mine))
        return;
    drain_page[0] = 1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &all_cpus))
            continue;
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0)
            madvise(drain_page, PAGE, MADV_COLD);
    }
    pthread_setaffinity_np(pthread_self(), sizeof(mine), &mine);
}

static long rc(long value) { return value < 0 ? -errno : value; }

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        char buf[256], control[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {buf, sizeof(buf) - 1};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                             .msg_controllen = sizeof(control)};
        ssize_t got = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (got <= 0) {
            if (fd == CHANNEL_FD)
                _exit(0); /* the controller closed our channel or died */
            close(fd);
            return NULL;
        }
        buf[got] = 0;
        int passed = -1;
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        if (cmsg && cmsg->cmsg_type == SCM_RIGHTS)
            memcpy(&passed, CMSG_DATA(cmsg), sizeof(int));
        char op[16] = "", word[16] = "";
        unsigned long long a = 0, b = 0;
        sscanf(buf, "%15s %llx %llx %15s", op, &a, &b, word);
        uint64_t value = b;
        if (!strcmp(op, "map")) {
            void *want = (void *)(uintptr_t)a;
            void *got_addr = mmap(want, b * PAGE, prot_of(word),
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (got_addr == MAP_FAILED) {
                reply(fd, "%lld", -errno, 0);
            } else if (got_addr != want) { /* a kernel without NOREPLACE: undo */
                munmap(got_addr, b * PAGE);
                reply(fd, "%lld", -EEXIST, 0);
            } else {
                madvise(want, b * PAGE, MADV_NOHUGEPAGE); /* 4 KiB semantics */
                reply(fd, "%lld", 0, 0);
            }
        } else if (!strcmp(op, "munmap")) {
            reply(fd, "%lld", rc(munmap((void *)(uintptr_t)a, b * PAGE)), 0);
        } else if (!strcmp(op, "mprotect")) {
            reply(fd, "%lld", rc(mprotect((void *)(uintptr_t)a, b * PAGE, prot_of(word))), 0);
        } else if (!strcmp(op, "mremap")) { /* mremap OLD NPAGES NEW: the third number is hex */
            void *to = (void *)(uintptr_t)strtoull(word, NULL, 16);
            void *got_addr = mremap((void *)(uintptr_t)a, b * PAGE, b * PAGE,
                                    MREMAP_MAYMOVE | MREMAP_FIXED, to);
            reply(fd, "%lld", got_addr == MAP_FAILED ? -errno : (long long)(uintptr_t)got_addr, 0);
        } else if (!strcmp(op, "mlock")) {
            reply(fd, "%lld", rc(mlock((void *)(uintptr_t)a, b * PAGE)), 0);
        } else if (!strcmp(op, "munlock")) {
            reply(fd, "%lld", rc(munlock((void *)(uintptr_t)a, b * PAGE)), 0);
        } else if (!strcmp(op, "pageout")) {
            drain_lru_batches();
            reply(fd, "%lld", rc(madvise((void *)(uintptr_t)a, PAGE, MADV_PAGEOUT)), 0);
        } else if (!strcmp(op, "read") || !strcmp(op, "write")) {
            int write = op[0] == 'w';
            int sig = access_page(a, write, &value);
            if (sig)
                reply(fd, "sig %lld", sig, 0);
            else
                reply(fd, "ok %llu", (long long)(write ? 0 : value), 0);
        } else if (!strcmp(op, "pte")) {
            reply(fd, "%lld", read_pte(a), 0);
        } else if (!strcmp(op, "thread") && passed >= 0) {
            start_thread(passed, a);
            reply(fd, "%lld", 0, 0);
        } else if (!strcmp(op, "fork") && passed >= 0) {
            pid_t pid = fork();
            if (pid == 0) {
                dup2(passed, CHANNEL_FD);
                syscall(SYS_close_range, BPF_FD + 1, ~0U, 0);
                reply(CHANNEL_FD, "%lld", getpid(), 0);
                serve((void *)(intptr_t)CHANNEL_FD);
            }
            close(passed);
            reply(fd, "%lld", pid < 0 ? -errno : 0, 0);
        } else if (!strcmp(op, "exit")) {
            reply(fd, "%lld", 0, 0);
            _exit(0);
        } else if (!strcmp(op, "quit")) {
            close(fd);
            return NULL;
        } else {
            if (passed >= 0)
                close(passed);
            reply(fd, "%lld", -ENOSYS, 0);
        }
    }
}

static int serve_main(int argc, char **argv)
{
    if (argc < 6)
        return 2;
    int fd = atoi(argv[2]);
    if (fd != CHANNEL_FD) {
        dup2(fd, CHANNEL_FD);
        close(fd);
    }
    ctx_args[2] = strtoull(argv[3], NULL, 0);
    ctx_args[3] = strtoull(argv[4], NULL, 0);
    ctx_args[1] = strtoull(argv[5], NULL, 0);
    sched_getaffinity(0, sizeof(all_cpus), &all_cpus); /* before the controller pins us */
    signal(SIGCHLD, SIG_IGN); /* forked simulated processes reap themselves */
    struct sigaction sa = {.sa_handler = on_fault};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    if (ctx_args[2] && ctx_args[3]) {
        int prog = load_pte_reader();
        if (prog < 0) {
            bpf_error = prog;
        } else if (prog != BPF_FD) {
            dup2(prog, BPF_FD);
            close(prog);
        }
    } else {
        bpf_error = -ENOSYS;
    }
    reply(CHANNEL_FD, "%lld", getpid(), 0);
    serve((void *)(intptr_t)CHANNEL_FD);
    return 0;
}

/* ---- crash guard ------------------------------------------------------------------------ */
static int guard_main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *dir = argv[2];
    size_t dirlen = strlen(dir);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    setsid();
    char buf[512];
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    FILE *swaps = fopen("/proc/swaps", "r");
    if (swaps) {
        char line[4096];
        while (fgets(line, sizeof(line), swaps)) {
            char *space = strpbrk(line, " \t");
            if (space)
                *space = 0;
            if (!strncmp(line, dir, dirlen) && line[dirlen] == '/')
                swapoff(line);
        }
        fclose(swaps);
    }
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "serve"))
        return serve_main(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "guard"))
        return guard_main(argc, argv);
    fprintf(stderr, "usage: helper serve FD OFF_MM OFF_PGD PAGE_OFFSET_BASE | helper guard DIR\n");
    return 2;
}
