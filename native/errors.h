// Return-code conventions of the native layer, after libuv's src/unix/udp.c:
// every function returns 0 (or a non-negative value) on success and -errno on
// failure; platforms without an implementation return -ENOSYS. JavaScript turns
// negative values into SystemError objects (src/util/errors.ts); C++ never builds
// error objects for OS failures.
#ifndef BLIPCAST_NATIVE_ERRORS_H
#define BLIPCAST_NATIVE_ERRORS_H

#include <cerrno>

namespace blipcast {

// -errno of the last failed system call. Read immediately after the call.
inline int neg_errno() { return errno != 0 ? -errno : -EIO; }

}  // namespace blipcast

#endif
