// SPDX-License-Identifier: GPL-2.0
/*
 * A fake TDH.SYS.RD for the harness: serves the table in the generated fake_values.h
 *
 *	static const struct fake_value fake_values[] = { { id, value, err }, ... };
 *	#define FAKE_KEY_MASK ...   the (class, field code) bits of an id
 *
 * An id matches an entry by its lookup key, as TDH.SYS.RD matches (element size code and
 * bit 63 ignored).  err != 0 is returned as is; an id with no entry gets -EIO, as tdx.c
 * turns TDX_METADATA_FIELD_ID_INCORRECT into -EIO.  Every read is logged on stdout as
 * "rd=0x<16 hex digits>" so tests see which ids were read, in order.
 */
#include <linux/errno.h>
#include <linux/types.h>
#include <stdio.h>

struct fake_value {
	u64 id;
	u64 value;
	int err;
};

#include "fake_values.h"

int fake_read(u64 field_id, u64 *data);

int fake_read(u64 field_id, u64 *data)
{
	size_t i;

	printf("rd=0x%016llx\n", field_id);
	for (i = 0; i < sizeof(fake_values) / sizeof(fake_values[0]); i++) {
		if ((fake_values[i].id & FAKE_KEY_MASK) != (field_id & FAKE_KEY_MASK))
			continue;
		if (fake_values[i].err)
			return fake_values[i].err;
		*data = fake_values[i].value;
		return 0;
	}
	return -EIO;
}
