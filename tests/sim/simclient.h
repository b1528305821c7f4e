/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C client of `tdx-codegen sim serve` (protocol: docs/sim-protocol.md).
 *
 * A program issues SEAMCALLs to the simulated TDX module as it would to a
 * real one: registers in, registers out, and for TDH.SYS.RDALL the bytes the
 * module wrote into the list page.
 */
#ifndef TDX_SIMCLIENT_H
#define TDX_SIMCLIENT_H

#include <stdint.h>

#define SIM_PAGE_SIZE 4096
#define SIM_TDH_SYS_RD 34
#define SIM_TDH_SYS_RDALL 37

struct sim_regs {
	uint64_t rax, rcx, rdx, r8;
};

/* Connect to "unix:PATH", "tcp:HOST:PORT" or a bare socket PATH; -1 on error. */
int sim_connect(const char *address);

/*
 * One SEAMCALL.  page (SIM_PAGE_SIZE bytes, may be NULL) receives what
 * TDH.SYS.RDALL wrote, *page_len its length (0: nothing written).
 * Returns 0, -1 on an I/O error, or the server's error code (> 0).
 */
int sim_seamcall(int fd, const struct sim_regs *in, struct sim_regs *out,
		 uint8_t *page, uint32_t *page_len);

#endif
