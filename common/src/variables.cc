// The rows of the configuration-variable table (see gpool/common/variables.h).
#include "gpool/common/variables.h"

#include <array>

namespace gpool::vars {
namespace {

constexpr std::string_view kLog = "Logging (every component)";
constexpr std::string_view kEmu = "Emulator (lib/gpool/emulator/libcuda.so.1)";
constexpr std::string_view kShim = "Client shim (lib/gpool/client/libcuda.so.1) and the gpool tool";
constexpr std::string_view kServer = "Server (gpool-server)";
constexpr std::string_view kTransport = "Transport (shim and server)";

constexpr std::array kTable{
    Variable{"GPOOL_LOG_LEVEL", kLog, "", "`warn` (gpool-server: `info`)",
             "`trace`, `debug`, `info`, `warn`, `error`, `off`; an unknown name means `warn`. `info` "
             "adds why a copy, free or allocation was refused"},

    Variable{"GPOOL_EMU_DEVICES", kEmu, "", "`1`",
             "number of emulated devices (1 to 16); all share the host's memory, so peer access "
             "between them is always possible"},
    Variable{"GPOOL_EMU_DEVICE_NAME", kEmu, "", "`gpool emulated GPU (sm_XY)`",
             "name reported by `cuDeviceGetName` (XY from `GPOOL_EMU_CC`)"},
    Variable{"GPOOL_EMU_MEMORY", kEmu, "", "`16g`",
             "device memory per device (suffixes k, m, g, t); `cuMemAlloc*` beyond it returns "
             "`CUDA_ERROR_OUT_OF_MEMORY`, `cuMemGetInfo` reports it. Memory is reserved lazily from "
             "the host (large allocations are `mmap`ed with `MAP_NORESERVE`)"},
    Variable{"GPOOL_EMU_CC", kEmu, "", "`13.0`",
             "compute capability `MAJOR.MINOR` (MAJOR 5 to 13, MINOR 0 to 9; anything else is "
             "logged as a warning naming the variable, and the default is used). The default 13.0 "
             "is newer than every SASS in the CUDA 13 toolkit, so CUDA libraries and nvcc-default "
             "programs run from their PTX. Device limits follow a representative part: 7.x T4, 8.0 "
             "A100, 8.6/8.9 consumer Ampere/Ada, 9.0 H100 SXM, 10.x/11.x B200, 12.0 RTX 5090, 12.1 "
             "GB10 (DGX Spark), 13.0 B200 limits (docs/emulator.md, Device profiles)"},
    Variable{"GPOOL_EMU_SMS", kEmu, "", "from the profile (148 for 13.0, 132 for 9.0, 40 for 7.5)",
             "multiprocessor count reported (and used by occupancy and cooperative-launch limits)"},
    Variable{"GPOOL_EMU_THREADS", kEmu, "", "all cores",
             "interpreter worker threads per kernel launch, 1 to 1024 (read by the executor at the "
             "first launch)"},
    Variable{"GPOOL_EMU_KERNEL_CACHE", kEmu, "", "`on`",
             "`off` (or `0`, `false`, `no`) turns the on-disk kernel cache off: every process then "
             "parses the PTX of each module it loads (docs/emulator.md, \"Lazy loading and the "
             "kernel cache\")"},
    Variable{"GPOOL_EMU_KERNEL_CACHE_DIR", kEmu, "",
             "`$XDG_CACHE_HOME/gpool/kernels`, else `~/.cache/gpool/kernels`",
             "directory of the kernel cache (parsed PTX modules keyed by the SHA-256 of their text "
             "and the emulator's build id), created if missing; safe to share between concurrent "
             "processes and to delete at any time"},
    Variable{"GPOOL_EMU_KERNEL_CACHE_MAX_BYTES", kEmu, "", "`1g`",
             "size bound of the kernel cache directory (suffixes k, m, g, t); after each store "
             "the least recently used entries are removed until the rest fit"},

    Variable{"GPOOL_SERVER", kShim, "server / servers", "`tcp://127.0.0.1:7070`",
             "server URL the shim connects to (read at `cuInit`), or several separated by commas: "
             "the program then sees the devices of all of them, server 0's first "
             "(docs/architecture.md, \"Client shim\"); or a pool in etcd, "
             "`etcd://HOST:PORT[,HOST:PORT...]/POOL`: the shim reads the pool's servers and places "
             "the program on those with the most free capacity (`GPOOL_DEVICES`), while NVML and "
             "`gpool smi` list every server of the pool; "
             "`gpool run` sets it from `--server`"},
    Variable{"GPOOL_DEVICES", kShim, "", "one server's devices",
             "with `GPOOL_SERVER=etcd://...`: how many devices (1 to 256) the program asks for; the "
             "shim takes them from the servers with the most free capacity, across servers when one "
             "has too few. Unset: all devices of the best server"},
    Variable{"GPOOL_TOKEN", kShim, "token", "none",
             "tenant token the shim presents; `gpool run` sets it from `--token`"},
    Variable{"GPOOL_TOKEN_FILE", kShim, "token_file", "none",
             "a file holding the tenant token on its first line (`GPOOL_TOKEN` wins when both are "
             "set); a file other users can read is warned about. `gpool run --token-file` sets it"},
    Variable{"GPOOL_TLS_CA", kShim, "tls_ca", "the system's CA store",
             "for `tls://` servers: a PEM file of the CA(s) that must have signed the server's "
             "certificate; the URL's host (name or IP) must match the certificate"},
    Variable{"GPOOL_TLS_FINGERPRINT", kShim, "tls_fingerprint", "none",
             "for `tls://` servers: the SHA-256 of the server's certificate (64 hex digits, colons "
             "allowed, as `openssl x509 -noout -fingerprint -sha256` prints it); pins that "
             "certificate instead of (or, with `GPOOL_TLS_CA`, besides) a CA"},
    Variable{"GPOOL_TLS_CERT", kShim, "tls_cert", "none",
             "client certificate (PEM) presented to a `tls://` server that asks for one (mutual "
             "TLS; the server maps it to a tenant); needs `GPOOL_TLS_KEY`"},
    Variable{"GPOOL_TLS_KEY", kShim, "tls_key", "none", "private key (PEM) of `GPOOL_TLS_CERT`"},
    Variable{"GPOOL_CONFIG", kShim, "", "none",
             "a TOML file with `server = \"...\"` (one URL or a comma-separated list) or "
             "`servers = [\"...\", ...]`, `token = \"...\"` or `token_file = \"...\"`, and "
             "`tls_ca`, `tls_fingerprint`, `tls_cert`, `tls_key` for the shim; "
             "the variables override it. An unreadable file is logged (`gpool shim` "
             "error) and the environment alone is used"},
    Variable{"CUDA_VISIBLE_DEVICES", kShim, "", "all devices",
             "as on a GPU host: a comma-separated list of device indices or UUIDs (`GPU-...`, a "
             "unique prefix is enough) picks and orders the devices the program sees; the list ends "
             "at the first entry that is invalid or repeated, and an empty list leaves no devices"},
    Variable{"GPOOL_BUSY_WAIT_MS", kShim, "", "`10000`",
             "how long the shim keeps retrying a server that refuses the session as busy "
             "(`ServerBusy`: session limit reached), with backoff from 50 ms to 1 s and one "
             "warning; 0 = fail at the first refusal. With a pool (`etcd://`), the shim first tries "
             "the next server and waits this long only when every server is full or down"},
    Variable{"GPOOL_ADMIN_TOKEN", kShim, "", "`GPOOL_TOKEN`",
             "token `gpool status` and `gpool reload` use (an admin tenant's token shows every "
             "tenant; any other tenant's token shows that tenant's own figures)"},
    Variable{"GPOOL_SHIM_DIR", kShim, "", "`../lib/gpool/client` beside `gpool`, else the build's",
             "where `gpool run` finds the shim's `libcuda.so.1`"},
    Variable{"GPOOL_SERVER_BIN", kShim, "",
             "`gpool-server` beside `gpool`, else the build's, else on `PATH`",
             "what `gpool server` starts"},

    Variable{"GPOOL_EMULATOR_LIB", kServer, "",
             "`../lib/gpool/emulator/libcuda.so.1` beside the binary, else the build's",
             "the driver library a worker loads for `backend = \"emulator\"`"},
    Variable{"GPOOL_REGISTRY", kServer, "registry", "none",
             "`etcd://HOST:PORT[,HOST:PORT...]/POOL`: register this server in that pool under a "
             "lease (URL, devices, free memory, sessions, load, version), refresh it every TTL/3, "
             "revoke it on a clean stop; `off` disables; `--registry` overrides it"},
    Variable{"GPOOL_ADVERTISE_URL", kServer, "advertise_url", "the first listener's bound URL",
             "the URL the server publishes in its pool for clients to connect to (set it when "
             "listening on 0.0.0.0 or behind NAT)"},
    Variable{"GPOOL_REGISTRY_TTL_S", kServer, "registry_ttl_s", "`10`",
             "1 to 3600: lease TTL of the pool registration in seconds; a server that dies without "
             "a clean stop leaves the pool after at most this long"},
    Variable{"GPOOL_SERVER_TLS_CERT", kServer, "tls_cert", "none",
             "certificate chain (PEM) the `tls://` listeners serve; re-read on SIGHUP"},
    Variable{"GPOOL_SERVER_TLS_KEY", kServer, "tls_key", "none", "private key (PEM) of the certificate"},
    Variable{"GPOOL_SERVER_TLS_CLIENT_CA", kServer, "tls_client_ca", "none",
             "CA (PEM) of client certificates: `tls://` clients must present one it signed "
             "(unless `tls_require_client_cert = false`); a tenant's `client_cert_sha256` maps a "
             "certificate to it (docs/security.md)"},
    Variable{"GPOOL_PUBLIC_IMAGES", kServer, "public_images", "none",
             "files or directories (`:`-separated; TOML: an array) whose embedded device-code "
             "images any tenant loads by hash alone, from the server's own copy, with no bytes "
             "sent: NVIDIA's toolkit libraries, e.g. `/usr/local/cuda/lib64`. Indexed in the "
             "background at start (docs/security.md, \"Public library images\"); a path that does "
             "not exist stops the server naming the key; `off` disables; `--public-images` "
             "overrides it"},
    Variable{"GPOOL_WARM_WORKERS", kServer, "warm_workers", "`0`",
             "pre-attached workers kept ready (0..4096); `--warm-workers` overrides it"},
    Variable{"GPOOL_METRICS_LISTEN", kServer, "metrics_listen", "off",
             "`HOST:PORT` of the Prometheus `/metrics` endpoint; `off` disables; "
             "`--metrics-listen` overrides it"},
    Variable{"GPOOL_SCHED", kServer, "scheduler", "`false`",
             "`1`/`0`: compute-share scheduler on or off. On: kernel launches take their device's "
             "turn (up to `GPOOL_SCHED_BATCH` launches a turn), the turn's work is waited for and "
             "its device time is charged to the tenant; devices are shared by `compute_weight` and "
             "`priority` (architecture.md, \"Server: devices and compute shares\")"},
    Variable{"GPOOL_SCHED_METERING", kServer, "scheduler_metering", "`auto`",
             "`wall`: host clock from a turn's first launch to the end of its work (exact on the "
             "emulator); `events`: timing events recorded around the launches, elapsed time as the "
             "device measured it (for GPUs); `auto`: `events` unless the backend is `emulator`"},
    Variable{"GPOOL_SCHED_BATCH", kServer, "scheduler_batch", "`0`",
             "0..256: launches one turn may enqueue before they are waited for and charged; 0 = 8 "
             "with `events`, 1 with `wall`. Larger keeps a session's launches pipelined; a "
             "high-priority neighbour then waits for up to that many kernels"},
    Variable{"GPOOL_SCHED_WINDOW_US", kServer, "scheduler_window_us", "`2000`",
             "0 to 1000000: how long a free turn is kept for a tenant that just left the device and "
             "goes first (so launch + synchronize clients still share by weight); 0 = never kept"},
    Variable{"GPOOL_COPY_CHUNK", kServer, "", "`1m`",
             "64k to 64m (suffixes k, m): H2D and D2H copies flow through the worker's pinned "
             "staging ring in chunks of this size; the network transfer of one chunk overlaps the "
             "device copy of the previous ones (`server/src/staging_ring.h`)"},
    Variable{"GPOOL_COPY_SLOTS", kServer, "", "`4`",
             "2 to 16: chunks of the staging ring, i.e. how many device copies may be in flight "
             "behind the network (pinned memory per worker = chunk x slots)"},
    Variable{"GPOOL_COPY_SPILL", kServer, "", "`8m`",
             "0 to 1g (suffixes k, m, g): host-to-device bytes a session may send into streams "
             "held at host functions before its shim settles them (HostFnSettle): the worker "
             "receives a copy's rest into this much spill memory instead of waiting for staging "
             "slots such a stream holds (docs/architecture.md, \"Copies into a held stream\")"},

    Variable{"GPOOL_TRANSPORT_CONNECT_TIMEOUT_MS", kTransport, "", "`5000` (shim: `3000`)",
             "connect timeout; 0 = wait for ever"},
    Variable{"GPOOL_TRANSPORT_SEND_TIMEOUT_MS", kTransport, "", "`0`", "send timeout; 0 = none"},
    Variable{"GPOOL_TRANSPORT_RECV_TIMEOUT_MS", kTransport, "", "`0`", "receive timeout; 0 = none"},
    Variable{"GPOOL_TRANSPORT_KEEPALIVE_IDLE_S", kTransport, "", "`10` (shim: `2`)",
             "TCP keepalive idle time"},
    Variable{"GPOOL_TRANSPORT_KEEPALIVE_INTVL_S", kTransport, "", "`2` (shim: `1`)",
             "TCP keepalive probe interval"},
    Variable{"GPOOL_TRANSPORT_KEEPALIVE_COUNT", kTransport, "", "`3` (shim: `2`)",
             "unanswered probes before the peer is declared dead (after about idle + interval x "
             "count seconds)"},
    Variable{"GPOOL_TRANSPORT_CHUNK", kTransport, "", "`2m`",
             "large transfers are cut into chunks of this size (suffixes k, m, g); also the size of "
             "the UCX messages a large segment is cut into"},
    Variable{"GPOOL_TRANSPORT_DEPTH", kTransport, "", "`8`",
             "chunks in flight at once (io_uring backend; also UCX messages of one segment)"},
    Variable{"GPOOL_TCP_BACKEND", kTransport, "", "`auto`",
             "`auto` (io_uring when the kernel allows it, else blocking sockets, logged once), "
             "`uring` (fail instead of falling back), `socket` (never io_uring); another value is "
             "logged and `auto` used"},
    Variable{"GPOOL_TCP_SMALL_SYSCALLS", kTransport, "", "`1`",
             "with the io_uring backend, sends up to 64 KiB and receives without a deadline use plain "
             "`sendmsg`/`recv` on the blocking socket (lower sync-call latency); bulk and timed "
             "transfers stay on io_uring. `0`: everything through io_uring"},
    Variable{"GPOOL_UCX_SPIN_US", kTransport, "", "`20`",
             "microseconds a waiting thread busy-polls the UCX worker before arming it and sleeping "
             "on its event fd; higher lowers latency at the cost of CPU, 0 always sleeps"},
    Variable{"GPOOL_UCX_PEER_ERRORS", kTransport, "", "`0` (off)",
             "`1` creates endpoints in UCX's peer-failure mode (UCX keepalive, forced close on "
             "error); off by default because UCX 1.13's shared-memory transports do not support it"},
};

}  // namespace

std::span<const Variable> all() { return kTable; }

const Variable* find(std::string_view name) {
  for (const Variable& v : kTable) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

}  // namespace gpool::vars
