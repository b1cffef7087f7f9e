/*
 * fuzz_config: the configuration loader (libconfuse tables, validation,
 * the typed copy) for both roles, from a temporary file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/smtpgate-fuzz-config.XXXXXX";
	int fd = mkstemp(path);
	if (fd == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	char err[1024];
	enum config_role role;
	config_detect_role(path, &role, err, sizeof(err));
	struct inbound_config *in = config_load_inbound(path, err, sizeof(err));
	if (in != NULL)
		config_free_inbound(in);
	struct outbound_config *out = config_load_outbound(path, err, sizeof(err));
	if (out != NULL)
		config_free_outbound(out);
	unlink(path);
	return 0;
}
