/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SHIM_LINUX_ERRNO_H
#define _SHIM_LINUX_ERRNO_H

#define EPERM		1
#define EIO		5
#define EACCES		13
#define EBUSY		16
#define ENODEV		19
#define EINVAL		22
#define EOPNOTSUPP	95

#endif
