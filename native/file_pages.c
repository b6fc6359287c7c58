/*
 * Hands the Node executable's clean pages back to the kernel: madvise(MADV_DONTNEED) on a range of a read-only,
 * private mapping of a file. Starting touches code and data scattered over the whole executable (Node's and V8's
 * startup, every module's first compile), and the kernel maps 64 KB around each page a fault touches (fault-around):
 * at start 49-53 MB of a 121 MB executable were resident in every meshdns process, of which the running server uses
 * about half. Dropping the mappings costs nothing the file does not hold: the pages are unchanged copies of it (the
 * caller checks that the mapping has no anonymous, copied-on-write page), the page cache keeps them, and the next
 * access maps them again in a minor fault. What the server goes on using comes back; the rest stops counting
 * against its resident size.
 *
 * JavaScript side: src/observability/file-pages.ts, which picks the mappings from /proc/self/smaps. Built by
 * scripts/build-native.mjs beside the other addons; where it is absent, nothing is released and the log says why.
 *
 * release(start: bigint, length: bigint) -> number   0, or the errno madvise failed with
 */
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <sys/mman.h>

static napi_value release(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  uint64_t start = 0, length = 0;
  bool lossless = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_bigint_uint64(env, argv[0], &start, &lossless) != napi_ok || !lossless ||
      napi_get_value_bigint_uint64(env, argv[1], &length, &lossless) != napi_ok || !lossless) {
    napi_throw_type_error(env, NULL, "file_pages.release: (start: bigint, length: bigint)");
    return NULL;
  }
  int result = madvise((void *)(uintptr_t)start, (size_t)length, MADV_DONTNEED) == 0 ? 0 : errno;
  napi_value out;
  if (napi_create_int32(env, result, &out) != napi_ok) return NULL;
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "release", NAPI_AUTO_LENGTH, release, NULL, &fn) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "release", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
