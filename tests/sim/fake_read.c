// SPDX-License-Identifier: GPL-2.0
/*
 * read_sys_metadata_field() for the kernel harness, over `tdx-codegen sim
 * serve`: TDH.SYS.RD through the C client, as the kernel's seamcall wrapper
 * does it (retry TDX_RND_NO_ENTROPY, print a failed status, -EIO).
 *
 * The server address comes from TDX_SIM_ADDRESS ("unix:PATH" or
 * "tcp:HOST:PORT").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "simclient.h"

#define TDX_RND_NO_ENTROPY 0x8000020300000000ULL
#define TDX_SEAMCALL_RETRIES 16

int fake_read(uint64_t field_id, uint64_t *data)
{
	static int fd = -1;
	struct sim_regs in = { .rax = SIM_TDH_SYS_RD, .rdx = field_id }, out;
	int retries = TDX_SEAMCALL_RETRIES;
	const char *address;

	if (fd < 0) {
		address = getenv("TDX_SIM_ADDRESS");
		fd = address ? sim_connect(address) : -1;
		if (fd < 0) {
			fprintf(stderr, "fake_read: cannot reach the simulator at TDX_SIM_ADDRESS=%s\n",
				address ? address : "(unset)");
			return -ENODEV;
		}
	}
	do {
		if (sim_seamcall(fd, &in, &out, NULL, NULL))
			return -EIO;
	} while (out.rax == TDX_RND_NO_ENTROPY && --retries);
	if (out.rax) {
		fprintf(stderr, "SEAMCALL (0x%016llx) failed: 0x%016llx\n",
			(unsigned long long)in.rax, (unsigned long long)out.rax);
		return -EIO;
	}
	*data = out.r8;
	return 0;
}
