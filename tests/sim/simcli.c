// SPDX-License-Identifier: GPL-2.0
/*
 * simcli ADDRESS RAX RCX RDX R8 [RAX RCX RDX R8 ...]: SEAMCALLs to the
 * simulator, one output line each:
 *
 *   rax=0x... rcx=0x... rdx=0x... r8=0x... [page=<hex of the bytes written>]
 *
 * Exit status 0, 1 when the simulator cannot be reached or refuses a frame.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "simclient.h"

int main(int argc, char **argv)
{
	uint8_t page[SIM_PAGE_SIZE];
	int fd;

	if (argc < 6 || (argc - 2) % 4) {
		fprintf(stderr, "usage: %s ADDRESS RAX RCX RDX R8 [...]\n", argv[0]);
		return 2;
	}
	fd = sim_connect(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "simcli: cannot connect to %s\n", argv[1]);
		return 1;
	}
	for (int i = 2; i < argc; i += 4) {
		struct sim_regs in, out;
		uint32_t len;
		int ret;

		in.rax = strtoull(argv[i], NULL, 0);
		in.rcx = strtoull(argv[i + 1], NULL, 0);
		in.rdx = strtoull(argv[i + 2], NULL, 0);
		in.r8 = strtoull(argv[i + 3], NULL, 0);
		ret = sim_seamcall(fd, &in, &out, page, &len);
		if (ret) {
			fprintf(stderr, "simcli: request failed (%d)\n", ret);
			return 1;
		}
		printf("rax=0x%016" PRIx64 " rcx=0x%016" PRIx64 " rdx=0x%016" PRIx64 " r8=0x%016" PRIx64,
		       out.rax, out.rcx, out.rdx, out.r8);
		if (len) {
			printf(" page=");
			for (uint32_t j = 0; j < len; j++)
				printf("%02x", page[j]);
		}
		printf("\n");
	}
	return 0;
}
