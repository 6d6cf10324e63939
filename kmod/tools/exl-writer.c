// SPDX-License-Identifier: GPL-2.0
/*
 * exl-writer: the VM tests' workload. Threads write self-describing data to their own
 * region of a block device with O_DIRECT, one write in flight per thread, and log every
 * operation with its CLOCK_MONOTONIC start and end, so the host can map each journal
 * record to the operation that caused it and recompute every byte the device holds.
 *
 *   exl-writer <device> <log out> key=value...
 *     threads=3 ops=200 region_bytes=<device / threads> base_bytes=0 seed=1
 *     min_bytes=4096 max_bytes=65536 pace_us=0
 *     zero_every=0 discard_every=0 flush_every=0 dsync_every=0   (0: never)
 *     sequential=0   1: max_bytes writes one after the other through the region, wrapping
 * A discard is followed by a write of the same range (logged as two entries with the same
 * operation number), so that the device's final content never depends on what the device
 * makes of a discard.
 *
 * Sector content of a write (512 bytes at byte offset o, by thread t, operation g):
 *   [0,4) "EXLW"  [4,8) t  [8,16) g  [16,24) o / 512  [24,512) (g*131 + t*31 + i + o/512) & 0xff
 * Log entry: struct wlog below (56 bytes, little-endian).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_ZEROES = 2, OP_DISCARD = 3, OP_FLUSH = 4 };
#define WLOG_DSYNC 1u

struct wlog {
	uint32_t thread;
	uint32_t kind;
	uint64_t gen;
	uint64_t offset;
	uint64_t length;
	uint64_t start_ns;
	uint64_t end_ns;
	int32_t result;
	uint32_t flags;
};

struct config {
	const char *device;
	unsigned long long threads, ops, zero_every, discard_every, flush_every;
	unsigned long long dsync_every, region_bytes, base_bytes, seed;
	unsigned long long min_bytes, max_bytes, pace_us, sequential;
};

struct worker {
	const struct config *cfg;
	unsigned index;
	struct wlog *log;
	unsigned logged;
	int failed;
	pthread_t thread;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t next_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

static void fill(unsigned char *buf, uint64_t offset, uint64_t length,
		 uint32_t thread, uint64_t gen)
{
	for (uint64_t at = 0; at < length; at += 512) {
		unsigned char *s = buf + at;
		uint64_t sector = (offset + at) / 512;

		memcpy(s, "EXLW", 4);
		memcpy(s + 4, &thread, 4);
		memcpy(s + 8, &gen, 8);
		memcpy(s + 16, &sector, 8);
		for (unsigned i = 24; i < 512; i++)
			s[i] = (unsigned char)(gen * 131 + thread * 31 + i +
					       sector);
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	const struct config *c = w->cfg;
	uint64_t state = c->seed * 0x9e3779b97f4a7c15ull + w->index + 1;
	uint64_t region = c->base_bytes + w->index * c->region_bytes;
	unsigned char *buf;
	int fd = open(c->device, O_RDWR | O_DIRECT);
	int dsync_fd = open(c->device, O_RDWR | O_DIRECT | O_DSYNC);

	if (fd < 0 || dsync_fd < 0 ||
	    posix_memalign((void **)&buf, 4096, c->max_bytes)) {
		perror("exl-writer: open");
		w->failed = 1;
		return NULL;
	}
	for (uint64_t gen = 1; gen <= c->ops; gen++) {
		struct wlog *e = &w->log[w->logged++];
		uint64_t blocks = c->region_bytes / 4096;
		uint64_t span = (c->max_bytes - c->min_bytes) / 4096 + 1;
		uint64_t length =
			c->min_bytes + (next_random(&state) % span) * 4096;
		uint64_t offset =
			region + (next_random(&state) % blocks) * 4096;
		uint64_t range[2];
		int discard_result = 0;
		ssize_t n;

		if (c->sequential) {
			uint64_t slots = c->region_bytes / c->max_bytes;

			length = c->max_bytes;
			offset = region + (gen - 1) % slots * length;
		}
		if (offset + length > region + c->region_bytes)
			length = region + c->region_bytes - offset;
		*e = (struct wlog){ .thread = w->index,
				    .gen = gen,
				    .offset = offset,
				    .length = length,
				    .kind = OP_WRITE };
		range[0] = offset;
		range[1] = length;
		if (c->flush_every && gen % c->flush_every == 0) {
			e->kind = OP_FLUSH;
			e->offset = e->length = 0;
			e->start_ns = now_ns();
			e->result = fdatasync(fd) ? -errno : 0;
		} else if (c->zero_every && gen % c->zero_every == 0) {
			e->kind = OP_ZEROES;
			e->start_ns = now_ns();
			e->result = ioctl(fd, BLKZEROOUT, range) ? -errno : 0;
		} else {
			int dsync = c->dsync_every && gen % c->dsync_every == 0;

			if (c->discard_every && gen % c->discard_every == 0) {
				e->kind = OP_DISCARD;
				e->start_ns = now_ns();
				e->result = ioctl(fd, BLKDISCARD, range) ?
						    -errno :
						    0;
				e->end_ns = now_ns();
				discard_result = e->result;
				e = &w->log[w->logged++];
				*e = w->log[w->logged - 2];
				e->kind = OP_WRITE;
				e->result = 0;
			}
			fill(buf, offset, length, w->index, gen);
			e->flags = dsync ? WLOG_DSYNC : 0;
			e->start_ns = now_ns();
			n = pwrite(dsync ? dsync_fd : fd, buf, length, offset);
			e->result = n == (ssize_t)length ? 0 :
				    n < 0		 ? -errno :
							   -EIO;
		}
		e->end_ns = now_ns();
		if (e->result || discard_result) {
			fprintf(stderr,
				"exl-writer: thread %u op %llu kind %u failed: %s\n",
				w->index, (unsigned long long)gen, e->kind,
				strerror(-(e->result ? e->result :
						       discard_result)));
			w->failed = 1;
		}
		if (c->pace_us)
			usleep(c->pace_us);
	}
	close(fd);
	close(dsync_fd);
	free(buf);
	return NULL;
}

static int parse(struct config *c, const char *kv)
{
	const struct {
		const char *name;
		unsigned long long *field;
	} keys[] = {
		{ "threads", &c->threads },
		{ "ops", &c->ops },
		{ "region_bytes", &c->region_bytes },
		{ "base_bytes", &c->base_bytes },
		{ "seed", &c->seed },
		{ "min_bytes", &c->min_bytes },
		{ "max_bytes", &c->max_bytes },
		{ "pace_us", &c->pace_us },
		{ "zero_every", &c->zero_every },
		{ "discard_every", &c->discard_every },
		{ "flush_every", &c->flush_every },
		{ "dsync_every", &c->dsync_every },
		{ "sequential", &c->sequential },
	};
	const char *eq = strchr(kv, '=');

	if (!eq)
		return -1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strlen(keys[i].name) == (size_t)(eq - kv) &&
		    !strncmp(kv, keys[i].name, eq - kv)) {
			*keys[i].field = strtoull(eq + 1, NULL, 0);
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct config c = { .threads = 3,
			    .ops = 200,
			    .seed = 1,
			    .min_bytes = 4096,
			    .max_bytes = 65536 };
	struct worker *workers;
	unsigned long long device_bytes = 0;
	int fd, failed = 0;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr,
			"usage: exl-writer <device> <log out> key=value...\n");
		return 2;
	}
	c.device = argv[1];
	for (int i = 3; i < argc; i++) {
		if (parse(&c, argv[i])) {
			fprintf(stderr, "exl-writer: unknown argument %s\n",
				argv[i]);
			return 2;
		}
	}
	fd = open(c.device, O_RDONLY);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &device_bytes)) {
		perror("exl-writer: size");
		return 1;
	}
	close(fd);
	if (!c.region_bytes)
		c.region_bytes =
			(device_bytes - c.base_bytes) / c.threads / 4096 * 4096;
	if (c.min_bytes % 4096 || c.max_bytes % 4096 ||
	    c.min_bytes > c.max_bytes || c.region_bytes < c.max_bytes ||
	    c.base_bytes + c.threads * c.region_bytes > device_bytes) {
		fprintf(stderr, "exl-writer: sizes do not fit the device\n");
		return 2;
	}
	workers = calloc(c.threads, sizeof(*workers));
	for (unsigned t = 0; t < c.threads; t++) {
		workers[t] = (struct worker){
			.cfg = &c,
			.index = t,
			.log = calloc(2 * c.ops, sizeof(struct wlog))
		};
		pthread_create(&workers[t].thread, NULL, run, &workers[t]);
	}
	out = fopen(argv[2], "wb");
	for (unsigned t = 0; t < c.threads; t++) {
		pthread_join(workers[t].thread, NULL);
		failed |= workers[t].failed;
		if (out)
			fwrite(workers[t].log, sizeof(struct wlog),
			       workers[t].logged, out);
	}
	if (!out || fclose(out)) {
		perror("exl-writer: log");
		return 1;
	}
	printf("exl-writer: threads=%llu ops=%llu failed=%d\n", c.threads,
	       c.ops, failed);
	return failed;
}
