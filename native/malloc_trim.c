/*
 * Hands the C heap's free pages back to the kernel: malloc_trim(0), glibc's. A large load (the registrations at
 * start, the first Kubernetes lists, a worker's first snapshot) frees most of what it allocated outside V8's heap
 * (SQLite's pages in its thread, HTTP bodies, the compilers' scratch), but glibc returns memory to the kernel only
 * from the top of an arena: freed chunks below a live one stay resident. malloc_trim releases every whole free page
 * (madvise MADV_DONTNEED) in every arena. Measured at 100,000 REST instances: 5-13 MB resident a start, the spread
 * between starts of the same build.
 *
 * JavaScript side: src/observability/malloc-trim.ts, called after the heap's compaction (compactAfterLoad). Built
 * by scripts/build-native.mjs beside udp_batch.c; where it is absent (no compiler) or the C library is not glibc
 * (musl has no malloc_trim), nothing is trimmed and the start line says so.
 *
 * trim() -> boolean   whether memory was released (false also where the C library has no malloc_trim)
 * glibc  (boolean)    whether this build has glibc's malloc_trim
 */
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef __GLIBC__
  int released = malloc_trim(0);
#else
  int released = 0;
#endif
  napi_value result;
  if (napi_get_boolean(env, released != 0, &result) != napi_ok) return NULL;
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, glibc;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok) return NULL;
#ifdef __GLIBC__
  napi_get_boolean(env, 1, &glibc);
#else
  napi_get_boolean(env, 0, &glibc);
#endif
  napi_set_named_property(env, exports, "trim", fn);
  napi_set_named_property(env, exports, "glibc", glibc);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
