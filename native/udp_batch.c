/*
 * UDP in batches for the DNS listener: recvmmsg(2) takes up to BATCH datagrams in one system call, JavaScript
 * answers them in one call (not one callback, Buffer and address object per datagram as node:dgram makes), and
 * sendmmsg(2) sends the answers in one system call. The socket is polled on Node's own event loop (uv_poll), so
 * no thread hop is added. Only the kernel crossings live here; parsing and answering stay in TypeScript.
 *
 * JavaScript side: src/dns/udp-batch.ts. Built by scripts/build-native.mjs (plain C, Node-API plus uv.h), loaded
 * if present; node:dgram is the fallback.
 *
 * open(family, host, port, reusePort, rx, tx, meta, addrs, onBatch) -> handle
 *   rx:    Buffer of BATCH * SLOT bytes; datagram i is written at i * SLOT
 *   tx:    Buffer of BATCH * SLOT bytes; the answer to datagram i is written (by JavaScript) at i * SLOT
 *   meta:  Int32Array(BATCH * 3): [length, port, answer length] of datagram i; JavaScript sets the answer length
 *          (0: no answer), and the addon sends those answers with one sendmmsg when onBatch returns
 *   addrs: Uint8Array(BATCH * 16): the sender's address (4 bytes for IPv4, 16 for IPv6)
 *   onBatch(count, first): answers datagrams first..first+count-1 (a run of at most RUN; their answers are sent
 *   when it returns). It returns true when it left promise jobs waiting (then it is called again with count 0
 *   inside a callback scope, which runs them).
 * sendTo(handle, buffer, port, address)     send now (answers that come later, after a forwarded query)
 * localPort(handle), close(handle)
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
/* Answers are made and sent in runs of this many: one sendmmsg per run, so the first query of a full batch does
 * not wait for the last one's answer (a run of 32 put p99 at 1.4-1.5x Knot's pinned, runs of 6-10 at 1.1-1.3x). */
#define RUN 8
#define SLOT 65536
/* Batches taken per poll wake-up before the event loop gets its turn (timers, TCP, HTTP). */
#define ROUNDS_PER_WAKE 8
#define SOCKET_BUFFER_BYTES (4 * 1024 * 1024)

typedef struct {
  uv_poll_t poll;
  int fd;
  int family;
  int closing;
  int in_callback;
  /* Freed when both are true: the poll handle is closed and JavaScript dropped the handle (its finalizer ran). */
  int handle_closed;
  int finalized;
  napi_env env;
  napi_ref on_batch;
  napi_ref rx_ref, tx_ref, meta_ref, addrs_ref;
  /* The handle itself, held while open: an open socket lives until close(), as a dgram socket does, even when
   * JavaScript keeps no reference to its handle (the raw bench loop did not, and lost its socket to a GC). */
  napi_ref self_ref;
  napi_async_context async_context;
  uint8_t *rx;
  int32_t *meta;
  uint8_t *addrs;
  struct mmsghdr rx_msgs[BATCH];
  struct iovec rx_iov[BATCH];
  struct sockaddr_storage rx_from[BATCH];
  /* The current batch's answers: JavaScript writes answer i at tx + i * SLOT and its length in meta. */
  uint8_t *tx;
  struct mmsghdr tx_msgs[BATCH];
  struct iovec tx_iov[BATCH];
  int tx_count;
} UdpBatch;

#define CHECK(call)                                                                          \
  do {                                                                                       \
    if ((call) != napi_ok) {                                                                 \
      napi_throw_error(env, NULL, "udp_batch: " #call " failed");                            \
      return NULL;                                                                           \
    }                                                                                        \
  } while (0)

/* Throws an Error whose code and message say the errno as Node's own errors do ("bind EADDRINUSE 127.0.0.1:53: ..."). */
static napi_value throw_errno(napi_env env, const char *what, int err) {
  char code[32], message[320];
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(err);
  snprintf(code, sizeof code, "%s", name != NULL ? name : "EUDPBATCH");
#else
  snprintf(code, sizeof code, "%s", err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "EUDPBATCH");
#endif
  snprintf(message, sizeof message, "%s %s: %s", what, code, strerror(err));
  napi_throw_error(env, code, message);
  return NULL;
}

static void flush(UdpBatch *s) {
  int done = 0;
  while (done < s->tx_count) {
    int n = sendmmsg(s->fd, s->tx_msgs + done, s->tx_count - done, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* A full send buffer or an unreachable client: that answer is lost, as a datagram may be; go on. */
      done++;
      continue;
    }
    done += n;
  }
  s->tx_count = 0;
}

static void free_if_done(UdpBatch *s) {
  if (!s->handle_closed || !s->finalized) return;
  free(s);
}

static void on_closed(uv_handle_t *handle) {
  UdpBatch *s = (UdpBatch *)handle->data;
  close(s->fd);
  s->handle_closed = 1;
  free_if_done(s);
}

/* Stops polling and closes the socket; the struct itself lives on until the JavaScript handle is collected. */
static void release(UdpBatch *s) {
  napi_env env = s->env;
  napi_delete_reference(env, s->on_batch);
  napi_delete_reference(env, s->rx_ref);
  napi_delete_reference(env, s->tx_ref);
  napi_delete_reference(env, s->self_ref);
  napi_delete_reference(env, s->meta_ref);
  napi_delete_reference(env, s->addrs_ref);
  napi_async_destroy(env, s->async_context);
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

static int receive_batch(UdpBatch *s) {
  for (int i = 0; i < BATCH; i++) {
    s->rx_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    s->rx_msgs[i].msg_hdr.msg_flags = 0;
  }
  int n;
  do n = recvmmsg(s->fd, s->rx_msgs, BATCH, MSG_DONTWAIT, NULL);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  for (int i = 0; i < n; i++) {
    struct sockaddr_storage *from = &s->rx_from[i];
    s->meta[i * 3] = (int32_t)s->rx_msgs[i].msg_len;
    s->meta[i * 3 + 2] = 0;
    if (from->ss_family == AF_INET6) {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)from;
      s->meta[i * 3 + 1] = ntohs(a->sin6_port);
      memcpy(s->addrs + i * 16, &a->sin6_addr, 16);
    } else {
      struct sockaddr_in *a = (struct sockaddr_in *)from;
      s->meta[i * 3 + 1] = ntohs(a->sin_port);
      memcpy(s->addrs + i * 16, &a->sin_addr, 4);
    }
  }
  return n;
}

/* Calls onBatch(count, first) for datagrams first..first+count-1; true when it left promise jobs waiting. */
static void answer_run(UdpBatch *s, int first, int count) {
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback, resource, argv[2], result;
  napi_get_reference_value(env, s->on_batch, &callback);
  napi_get_undefined(env, &resource); /* the global object (which make_callback needs) cost 0.5 % a query */
  napi_create_int32(env, count, &argv[0]);
  napi_create_int32(env, first, &argv[1]);
  s->in_callback = 1;
  /* A plain call: make_callback's scope (async context, then draining promise jobs and ticks) cost more than
   * the call itself at one or two datagrams a wake-up. onBatch returns true when it left promises waiting
   * (forwarded queries): then an empty make_callback (count 0) drains them now, as dgram's callback would. */
  napi_status status = napi_call_function(env, resource, callback, 2, argv, &result);
  s->in_callback = 0;
  bool pending_jobs = false;
  if (status == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
  } else if (status == napi_ok) {
    napi_get_value_bool(env, result, &pending_jobs);
  }
  if (pending_jobs) {
    napi_create_int32(env, 0, &argv[0]);
    napi_get_global(env, &resource); /* make_callback wants an object as `this` */
    if (napi_make_callback(env, s->async_context, resource, callback, 2, argv, &result) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
    }
  }
  napi_close_handle_scope(env, scope);
  for (int i = first; i < first + count; i++) {
    int32_t length = s->meta[i * 3 + 2];
    if (length <= 0 || length > SLOT) continue;
    int t = s->tx_count++;
    s->tx_iov[t].iov_base = s->tx + (size_t)i * SLOT;
    s->tx_iov[t].iov_len = (size_t)length;
    s->tx_msgs[t].msg_hdr.msg_name = &s->rx_from[i];
    s->tx_msgs[t].msg_hdr.msg_namelen = s->rx_msgs[i].msg_hdr.msg_namelen;
  }
  flush(s);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  UdpBatch *s = (UdpBatch *)poll->data;
  if (status < 0 || s->closing) return;
  for (int round = 0; round < ROUNDS_PER_WAKE && !s->closing; round++) {
    int n = receive_batch(s);
    if (n == 0) break;
    for (int first = 0; first < n && !s->closing; first += RUN) answer_run(s, first, n - first < RUN ? n - first : RUN);
    if (n < BATCH) break;
  }
  if (s->closing) release(s);
}

static UdpBatch *unwrap(napi_env env, napi_value handle) {
  void *data = NULL;
  if (napi_get_value_external(env, handle, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "udp_batch: not a socket handle");
    return NULL;
  }
  UdpBatch *s = (UdpBatch *)data;
  if (s->closing) {
    napi_throw_error(env, "ERR_SOCKET_DGRAM_NOT_RUNNING", "udp_batch: socket is closed");
    return NULL;
  }
  return s;
}

/* The arguments of a call on a socket: argv[0] is the handle; NULL (with an exception pending) if it is not one. */
static UdpBatch *socket_call(napi_env env, napi_callback_info info, size_t argc, napi_value *argv) {
  size_t given = argc;
  if (napi_get_cb_info(env, info, &given, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "udp_batch: bad arguments");
    return NULL;
  }
  return unwrap(env, argv[0]);
}

static int parse_address(int family, const char *host, int port, struct sockaddr_storage *out, socklen_t *len) {
  memset(out, 0, sizeof *out);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    *len = sizeof *a;
    return inet_pton(AF_INET6, host, &a->sin6_addr) == 1;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)out;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  *len = sizeof *a;
  return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

static void finalize(napi_env env, void *data, void *hint) {
  UdpBatch *s = (UdpBatch *)data;
  s->finalized = 1;
  if (!s->closing) {
    s->closing = 1;
    release(s);
  } else {
    free_if_done(s);
  }
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) {
    napi_throw_type_error(env, NULL, "udp_batch.open: 9 arguments");
    return NULL;
  }
  int32_t family, port;
  bool reuse_port;
  char host[64];
  size_t host_len;
  CHECK(napi_get_value_int32(env, argv[0], &family));
  CHECK(napi_get_value_string_utf8(env, argv[1], host, sizeof host, &host_len));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_bool(env, argv[3], &reuse_port));
  void *rx, *tx, *meta, *addrs;
  size_t rx_len, tx_len, meta_len, addrs_len;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  CHECK(napi_get_buffer_info(env, argv[4], &rx, &rx_len));
  CHECK(napi_get_buffer_info(env, argv[5], &tx, &tx_len));
  CHECK(napi_get_typedarray_info(env, argv[6], &type, &meta_len, &meta, &ab, &offset));
  if (type != napi_int32_array || meta_len < BATCH * 3) return throw_errno(env, "udp_batch.open: meta", EINVAL);
  CHECK(napi_get_typedarray_info(env, argv[7], &type, &addrs_len, &addrs, &ab, &offset));
  if (type != napi_uint8_array || addrs_len < BATCH * 16 || rx_len < (size_t)BATCH * SLOT || tx_len < (size_t)BATCH * SLOT) return throw_errno(env, "udp_batch.open: buffers", EINVAL);

  struct sockaddr_storage bind_to;
  socklen_t bind_len;
  if (!parse_address(family, host, port, &bind_to, &bind_len)) return throw_errno(env, "udp_batch.open: address", EINVAL);
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1, size = SOCKET_BUFFER_BYTES;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "setsockopt SO_REUSEPORT", err);
  }
  /* The kernel may cap these (net.core.rmem_max); its defaults still work. */
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (bind(fd, (struct sockaddr *)&bind_to, bind_len) != 0) {
    int err = errno;
    close(fd);
    char what[96];
    snprintf(what, sizeof what, family == 6 ? "bind [%s]:%d" : "bind %s:%d", host, port);
    return throw_errno(env, what, err);
  }

  UdpBatch *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, "udp_batch.open", ENOMEM);
  }
  s->fd = fd;
  s->family = family;
  s->env = env;
  s->rx = rx;
  s->tx = tx;
  s->meta = meta;
  s->addrs = addrs;
  for (int i = 0; i < BATCH; i++) {
    s->rx_iov[i].iov_base = s->rx + (size_t)i * SLOT;
    s->rx_iov[i].iov_len = SLOT;
    s->rx_msgs[i].msg_hdr.msg_iov = &s->rx_iov[i];
    s->rx_msgs[i].msg_hdr.msg_iovlen = 1;
    s->rx_msgs[i].msg_hdr.msg_name = &s->rx_from[i];
    s->tx_msgs[i].msg_hdr.msg_iov = &s->tx_iov[i];
    s->tx_msgs[i].msg_hdr.msg_iovlen = 1;
  }
  napi_value resource_name;
  CHECK(napi_create_string_utf8(env, "meshdns.udp", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &s->async_context));
  CHECK(napi_create_reference(env, argv[8], 1, &s->on_batch));
  CHECK(napi_create_reference(env, argv[4], 1, &s->rx_ref));
  CHECK(napi_create_reference(env, argv[5], 1, &s->tx_ref));
  CHECK(napi_create_reference(env, argv[6], 1, &s->meta_ref));
  CHECK(napi_create_reference(env, argv[7], 1, &s->addrs_ref));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  napi_value handle;
  CHECK(napi_create_external(env, s, finalize, NULL, &handle));
  CHECK(napi_create_reference(env, handle, 1, &s->self_ref));
  return handle;
}

static napi_value send_to(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  UdpBatch *s = socket_call(env, info, 4, argv);
  if (s == NULL) return NULL;
  void *data;
  size_t length;
  int32_t port;
  char host[64];
  size_t host_len;
  CHECK(napi_get_buffer_info(env, argv[1], &data, &length));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_string_utf8(env, argv[3], host, sizeof host, &host_len));
  struct sockaddr_storage to;
  socklen_t to_len;
  if (!parse_address(s->family, host, port, &to, &to_len)) return throw_errno(env, "udp_batch.sendTo: address", EINVAL);
  /* A full send buffer or an unreachable client loses this answer, as a datagram may be lost. */
  (void)sendto(s->fd, data, length, MSG_DONTWAIT, (struct sockaddr *)&to, to_len);
  return NULL;
}

static napi_value local_port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  UdpBatch *s = socket_call(env, info, 1, argv);
  if (s == NULL) return NULL;
  struct sockaddr_storage local;
  socklen_t len = sizeof local;
  if (getsockname(s->fd, (struct sockaddr *)&local, &len) != 0) return throw_errno(env, "getsockname", errno);
  int port = local.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&local)->sin6_port) : ntohs(((struct sockaddr_in *)&local)->sin_port);
  napi_value result;
  CHECK(napi_create_int32(env, port, &result));
  return result;
}

static napi_value close_socket(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  UdpBatch *s = socket_call(env, info, 1, argv);
  if (s == NULL) return NULL;
  s->closing = 1;
  /* Inside onBatch the poll callback is still on the stack: it releases the socket when the batch ends. */
  if (!s->in_callback) release(s);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendTo", NULL, send_to, NULL, NULL, NULL, napi_enumerable, NULL},
      {"localPort", NULL, local_port, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_socket, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value batch, slot;
  napi_create_int32(env, BATCH, &batch);
  napi_create_int32(env, SLOT, &slot);
  napi_set_named_property(env, exports, "BATCH", batch);
  napi_set_named_property(env, exports, "SLOT", slot);
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
