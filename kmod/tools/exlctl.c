// SPDX-License-Identifier: GPL-2.0
/*
 * exlctl: a small command-line client of /dev/extentlog/<name> (uapi/extentlog.h), used by
 * the module's VM tests where no Node.js runs.
 *
 *   exlctl info <journal>
 *   exlctl dump <journal> <out>    read and acknowledge records into <out> until SIGTERM,
 *                                  then drain what is pending and exit
 *   exlctl drain <journal> <out>   read and acknowledge what is pending, then exit
 *   exlctl snap-image <journal> <cow store> <chunk bytes> <out> [pause ms per MiB]
 *                                  take a snapshot, copy its image to <out>, end it;
 *                                  prints snap_id=, marker_pos=, copied_chunks=
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#include "uapi/extentlog.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int die(const char *what)
{
	fprintf(stderr, "exlctl: %s: %s\n", what, strerror(errno));
	return 1;
}

static int open_journal(const char *path, int flags)
{
	int fd = open(path, O_RDWR | flags);

	if (fd < 0)
		fprintf(stderr, "exlctl: open %s: %s\n", path, strerror(errno));
	return fd;
}

static int info(const char *path)
{
	struct exl_info in;
	int fd = open_journal(path, 0);

	if (fd < 0)
		return 1;
	if (ioctl(fd, EXL_IOC_INFO, &in))
		return die("EXL_IOC_INFO");
	printf("uapi_version=%u record_bytes=%u journal_id=%llu device_sectors=%llu "
	       "ring_records=%llu head_pos=%llu tail_pos=%llu read_pos=%llu "
	       "next_seq=%llu lost_total=%llu last_loss_head=%llu inflight=%llu "
	       "snap_id=%llu\n",
	       in.uapi_version, in.record_bytes,
	       (unsigned long long)in.journal_id,
	       (unsigned long long)in.device_sectors,
	       (unsigned long long)in.ring_records,
	       (unsigned long long)in.head_pos, (unsigned long long)in.tail_pos,
	       (unsigned long long)in.read_pos, (unsigned long long)in.next_seq,
	       (unsigned long long)in.lost_total,
	       (unsigned long long)in.last_loss_head,
	       (unsigned long long)in.inflight_writes,
	       (unsigned long long)in.snap_id);
	close(fd);
	return 0;
}

/* Reads what is pending (once: blocking until something is; drain: never blocking). */
static int dump(const char *path, const char *out_path, int drain_only)
{
	static struct exl_record records[4096];
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long long total = 0;
	int fd = open_journal(path, O_NONBLOCK);
	FILE *out;

	if (fd < 0)
		return 1;
	out = fopen(out_path, "wb");
	if (!out)
		return die(out_path);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (;;) {
		ssize_t n = read(fd, records, sizeof(records));

		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (drain_only || stop_requested)
				break;
			poll(&p, 1, 100);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return die("read");
		if (n == 0)
			break;
		if (fwrite(records, 1, n, out) != (size_t)n)
			return die("write");
		total += n / sizeof(records[0]);
		{
			__u64 ack = records[n / sizeof(records[0]) - 1].pos + 1;

			if (ioctl(fd, EXL_IOC_ACK, &ack))
				return die("EXL_IOC_ACK");
		}
	}
	if (fclose(out))
		return die(out_path);
	printf("dumped_records=%llu\n", total);
	close(fd);
	return 0;
}

static int snap_image(const char *path, const char *store_path,
		      unsigned int chunk_bytes, const char *out_path,
		      unsigned int pause_ms)
{
	const size_t piece = 1 << 20;
	struct exl_snap_start start = { .chunk_bytes = chunk_bytes };
	struct exl_snap_read rd;
	struct exl_info in;
	unsigned long long offset, size;
	char *buf = malloc(piece);
	int fd = open_journal(path, 0);
	int store = open(store_path, O_RDWR);
	FILE *out = fopen(out_path, "wb");

	if (fd < 0 || store < 0 || !out || !buf)
		return die("snap-image setup");
	if (ioctl(fd, EXL_IOC_INFO, &in))
		return die("EXL_IOC_INFO");
	start.cow_fd = store;
	if (ioctl(fd, EXL_IOC_SNAP_START, &start))
		return die("EXL_IOC_SNAP_START");
	printf("snap_id=%llu marker_pos=%llu capacity_chunks=%llu lost_total=%llu\n",
	       (unsigned long long)start.snap_id,
	       (unsigned long long)start.marker_pos,
	       (unsigned long long)start.capacity_chunks,
	       (unsigned long long)start.lost_total);
	fflush(stdout);
	size = (unsigned long long)in.device_sectors << EXL_SECTOR_SHIFT;
	for (offset = 0; offset < size; offset += piece) {
		size_t len = size - offset < piece ? size - offset : piece;

		rd = (struct exl_snap_read){ .snap_id = start.snap_id,
					     .offset_bytes = offset,
					     .length_bytes = len,
					     .buf = (uintptr_t)buf };
		if (ioctl(fd, EXL_IOC_SNAP_READ, &rd))
			return die("EXL_IOC_SNAP_READ");
		if (fwrite(buf, 1, len, out) != len)
			return die(out_path);
		if (pause_ms) {
			struct timespec ts = { pause_ms / 1000,
					       (pause_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	if (ioctl(fd, EXL_IOC_INFO, &in))
		return die("EXL_IOC_INFO");
	printf("copied_chunks=%llu snap_error=%d\n",
	       (unsigned long long)in.snap_copied_chunks, in.snap_error);
	if (ioctl(fd, EXL_IOC_SNAP_STOP, &start.snap_id))
		return die("EXL_IOC_SNAP_STOP");
	if (fclose(out))
		return die(out_path);
	close(store);
	close(fd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "info"))
		return info(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "dump"))
		return dump(argv[2], argv[3], 0);
	if (argc == 4 && !strcmp(argv[1], "drain"))
		return dump(argv[2], argv[3], 1);
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "snap-image"))
		return snap_image(argv[2], argv[3], strtoul(argv[4], NULL, 0),
				  argv[5],
				  argc == 7 ? strtoul(argv[6], NULL, 0) : 0);
	fprintf(stderr,
		"usage: exlctl info|dump|drain|snap-image ... (see the source)\n");
	return 2;
}
