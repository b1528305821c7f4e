/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SHIM_LINUX_BUILD_BUG_H
#define _SHIM_LINUX_BUILD_BUG_H

/* As in the kernel: 0 when e is false, a compile error when it is true. */
#define BUILD_BUG_ON_ZERO(e)	((int)(sizeof(struct { int:(-!!(e)); })))
#define BUILD_BUG_ON(e)		_Static_assert(!(e), "BUILD_BUG_ON failed: " #e)

#endif
