/* SPDX-License-Identifier: GPL-2.0 */
/* Test shim of the kernel's fixed-width types, enough for tdx_global_metadata.{h,c}. */
#ifndef _SHIM_LINUX_TYPES_H
#define _SHIM_LINUX_TYPES_H

#include <stddef.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;

#endif
