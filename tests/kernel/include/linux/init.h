/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SHIM_LINUX_INIT_H
#define _SHIM_LINUX_INIT_H

#define __init		__attribute__((__section__(".init.text"), __cold__))
#define __initconst	__attribute__((__section__(".init.rodata")))

#endif
