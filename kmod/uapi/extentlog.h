/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * extentlog kernel journal: the interface between the dm target "extentlog" and user space.
 *
 * One character device per target, /dev/extentlog/<name>:
 *   read(2)   whole struct exl_record entries, oldest unacknowledged first; blocks (or
 *             EAGAIN with O_NONBLOCK) while none are pending. One reader per target at a time.
 *   poll(2)   EPOLLIN while records are pending; EPOLLHUP once the target is gone.
 *   ioctl(2)  EXL_IOC_* below.
 *
 * The journal is a ring of fixed 64-byte records in completion order. Records stay in the
 * ring until the reader acknowledges them (EXL_IOC_ACK), so a reader that reopens the
 * device gets every unacknowledged record again. When the ring is full, records are dropped
 * and counted; the loss is reported by an EXL_REC_OVERFLOW record as soon as there is room,
 * and by exl_info.lost_total / last_loss_head at once.
 *
 *   pos:  0 ........ tail ............ read ............ head
 *                    |<- read, unacked ->|<- not yet read ->|
 *                    |<-------- at most ring_records ------>|
 *
 * All integers are in the CPU's byte order, except in the COW store (little-endian).
 */
#ifndef _UAPI_LINUX_EXTENTLOG_H
#define _UAPI_LINUX_EXTENTLOG_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define EXL_UAPI_VERSION 1
#define EXL_SECTOR_SHIFT 9

/* struct exl_record.type */
enum exl_record_type {
	EXL_REC_WRITE = 1,
	EXL_REC_DISCARD = 2,
	EXL_REC_WRITE_ZEROES = 3,
	/* an empty REQ_PREFLUSH bio completed */
	EXL_REC_FLUSH = 4,
	/* arg records were dropped just before this one */
	EXL_REC_OVERFLOW = 5,
	/* snapshot arg started; records with a lower pos precede it */
	EXL_REC_SNAP_START = 6,
	/* snapshot arg ended */
	EXL_REC_SNAP_STOP = 7,
	/* snapshot arg lost its COW store (full, or an I/O error in status) */
	EXL_REC_SNAP_INVALID = 8,
};

/* struct exl_record.flags */
#define EXL_RECF_FUA (1U << 0)
#define EXL_RECF_PREFLUSH (1U << 1)

/*
 *  0       8       16      24  28  30  32      40      48  52  56      64
 *  +-------+-------+-------+---+---+---+-------+-------+---+---+-------+
 *  | pos   | seq   | sector|nr |typ|flg|issued |complet|sts|rsv| arg   |
 *  +-------+-------+-------+---+---+---+-------+-------+---+---+-------+
 */
struct exl_record {
	__u64 pos; /* ring position: dense, increasing in completion order */
	__u64 seq; /* per-device, from 1, when the bio was issued; 0: no bio */
	__u64 sector; /* first 512-byte sector, from the start of the device */
	__u32 nr_sectors; /* 0 for FLUSH and the non-I/O types */
	__u16 type; /* enum exl_record_type */
	__u16 flags; /* EXL_RECF_* */
	__u64 issued_ns; /* CLOCK_MONOTONIC when the target saw the bio */
	__u64 completed_ns; /* CLOCK_MONOTONIC when it completed */
	__s32 status; /* 0, or the negative errno the bio completed with */
	__u32 reserved;
	__u64 arg; /* OVERFLOW: records lost; SNAP_*: snapshot id */
};

#define EXL_RECORD_BYTES 64

struct exl_info {
	__u32 uapi_version; /* EXL_UAPI_VERSION */
	__u32 record_bytes; /* EXL_RECORD_BYTES */
	__u64 journal_id; /* random, new for every target instance */
	__u64 device_sectors; /* size of the protected device */
	__u64 ring_records; /* capacity of the ring */
	__u64 head_pos; /* the pos the next record gets */
	__u64 tail_pos; /* the oldest unacknowledged record */
	__u64 read_pos; /* the record read(2) returns next */
	__u64 next_seq;
	__u64 lost_total; /* records dropped since the target was created */
	__u64 last_loss_head; /* head_pos at the last drop (valid if lost_total) */
	__u64 inflight_writes; /* data bios admitted and not completed */
	__s64 realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, now */
	__u64 snap_id; /* the active snapshot, or 0 */
	__u64 snap_marker_pos;
	__u64 snap_chunk_bytes;
	__u64 snap_capacity_chunks;
	__u64 snap_copied_chunks;
	__s32 snap_error; /* 0, or the negative errno that invalidated it */
	__u32 reserved0;
	/* 1 + the pos of the last data record acknowledged, 0 if none was */
	__u64 acked_data_end;
	__u64 reserved[5];
};

/*
 * Starts a copy-on-write snapshot. Data writes are held while the ones in flight drain,
 * so that every record with pos < marker_pos completed before the snapshot and every
 * later one after it. From then on, before a write (or discard, or write-zeroes) reaches
 * a chunk that was not copied yet, the old chunk is copied to the COW store.
 */
struct exl_snap_start {
	__s32 cow_fd; /* in: a file or block device opened read-write */
	__u32 chunk_bytes; /* in: a power of two, 4 KiB .. 1 MiB */
	__u64 snap_id; /* out */
	__u64 marker_pos; /* out */
	__u64 capacity_chunks; /* out: chunks the COW store holds */
	__u64 lost_total; /* out: exl_info.lost_total at the marker */
	__u64 last_loss_head; /* out: exl_info.last_loss_head at the marker */
	__u64 flags; /* in: EXL_SNAP_* */
	__u64 reserved;
};

/*
 * Release every record below the marker as the snapshot starts (the reader's position
 * moves up to the marker): for a reader that re-reads the whole device from the snapshot
 * and has no use for them. A full ring has room again at once, so the writes that arrive
 * while the device is read are not dropped.
 */
#define EXL_SNAP_RELEASE_BELOW (1ULL << 0)

/* Reads the snapshot image. offset_bytes and length_bytes are multiples of 512. */
struct exl_snap_read {
	__u64 snap_id;
	__u64 offset_bytes;
	__u64 length_bytes; /* at most EXL_SNAP_READ_MAX_BYTES */
	__u64 buf; /* user pointer */
};

#define EXL_SNAP_READ_MAX_BYTES (16U << 20)
#define EXL_CHUNK_MIN_BYTES 4096U
#define EXL_CHUNK_MAX_BYTES (1U << 20)

#define EXL_IOC_MAGIC 0xE7
#define EXL_IOC_INFO _IOR(EXL_IOC_MAGIC, 1, struct exl_info)
/*
 * Releases every record with pos < *arg; *arg must not pass the read position. A reader
 * may release records it has no use for (flushes) without a new resume point: exl_info.
 * acked_data_end tells whether any data record was released after a position.
 */
#define EXL_IOC_ACK _IOW(EXL_IOC_MAGIC, 2, __u64)
#define EXL_IOC_SNAP_START _IOWR(EXL_IOC_MAGIC, 3, struct exl_snap_start)
/* Ends the snapshot *arg; the file that started it ends it on close as well. */
#define EXL_IOC_SNAP_STOP _IOW(EXL_IOC_MAGIC, 4, __u64)
#define EXL_IOC_SNAP_READ _IOW(EXL_IOC_MAGIC, 5, struct exl_snap_read)

/*
 * The COW store, little-endian:
 *
 *   0            4096                       data_offset
 *   +------------+--------------------------+---------+---------+----
 *   | header     | index: capacity x __le64  | slot 0  | slot 1  | ...
 *   +------------+--------------------------+---------+---------+----
 *
 * index[i] = origin chunk number + 1 of the data in slot i, 0 while the slot is free.
 * Slot i holds chunk_bytes at data_offset + i * chunk_bytes. A slot's data is written
 * before its index entry. The header's state is ACTIVE while the snapshot runs and ENDED
 * or INVALID after it (written with fsync when it ends).
 */
#define EXL_COW_MAGIC "EXLOGCOW"
#define EXL_COW_VERSION 1
#define EXL_COW_HEADER_BYTES 4096

enum exl_cow_state {
	EXL_COW_ACTIVE = 1,
	EXL_COW_ENDED = 2,
	EXL_COW_INVALID = 3,
};

struct exl_cow_header {
	__u8 magic[8]; /* EXL_COW_MAGIC, no terminator */
	__le32 version; /* EXL_COW_VERSION */
	__le32 header_bytes; /* EXL_COW_HEADER_BYTES */
	__le32 chunk_bytes;
	__le32 state; /* enum exl_cow_state */
	__le64 snap_id;
	__le64 journal_id;
	__le64 device_sectors;
	__le64 marker_pos;
	__le64 capacity_chunks;
	__le64 index_offset; /* EXL_COW_HEADER_BYTES */
	__le64 data_offset; /* a multiple of 4096 */
	__le64 used_chunks; /* slots in use when the snapshot ended */
	__le64 created_realtime_ns;
	__s32 error; /* INVALID: the negative errno */
	__u32 reserved0;
};

#endif /* _UAPI_LINUX_EXTENTLOG_H */
