/**
 * The group APIs: FindCoordinator (always this node), the membership protocol, committed
 * offsets, and group administration — thin codecs around the `GroupCoordinator`.
 */
import {
  decodeDeleteGroupsRequest,
  encodeDeleteGroupsResponse,
} from '../protocol/delete-groups.js';
import {
  decodeDescribeGroupsRequest,
  encodeDescribeGroupsResponse,
} from '../protocol/describe-groups.js';
import {
  decodeFindCoordinatorRequest,
  encodeFindCoordinatorResponse,
} from '../protocol/find-coordinator.js';
import { decodeHeartbeatRequest, encodeHeartbeatResponse } from '../protocol/heartbeat.js';
import { decodeJoinGroupRequest, encodeJoinGroupResponse } from '../protocol/join-group.js';
import { decodeLeaveGroupRequest, encodeLeaveGroupResponse } from '../protocol/leave-group.js';
import { encodeListGroupsResponse } from '../protocol/list-groups.js';
import {
  decodeOffsetCommitRequest,
  encodeOffsetCommitResponse,
} from '../protocol/offset-commit.js';
import { decodeOffsetFetchRequest, encodeOffsetFetchResponse } from '../protocol/offset-fetch.js';
import { decodeSyncGroupRequest, encodeSyncGroupResponse } from '../protocol/sync-group.js';
import type { RequestContext } from './request-context.js';

export function handleFindCoordinator({ reader, writer, version, broker }: RequestContext): void {
  decodeFindCoordinatorRequest(reader, version);
  const { host, port } = broker.advertised();
  encodeFindCoordinatorResponse(writer, version, {
    errorCode: 0,
    errorMessage: null,
    nodeId: broker.nodeId,
    host,
    port,
  });
}

export async function handleJoinGroup({
  reader,
  writer,
  version,
  broker,
  connection,
}: RequestContext) {
  const request = decodeJoinGroupRequest(reader, version);
  const response = await broker.coordinator.join(request, version, {
    clientId: connection.clientId,
    clientHost: `/${connection.remoteAddress}`,
  });
  encodeJoinGroupResponse(writer, version, response);
}

export async function handleSyncGroup({ reader, writer, version, broker }: RequestContext) {
  const response = await broker.coordinator.sync(decodeSyncGroupRequest(reader, version));
  encodeSyncGroupResponse(writer, version, response);
}

export function handleHeartbeat({ reader, writer, version, broker }: RequestContext): void {
  const code = broker.coordinator.heartbeat(decodeHeartbeatRequest(reader, version));
  encodeHeartbeatResponse(writer, version, code);
}

export function handleLeaveGroup({ reader, writer, version, broker }: RequestContext): void {
  const request = decodeLeaveGroupRequest(reader, version);
  encodeLeaveGroupResponse(
    writer,
    version,
    broker.coordinator.leave(request.groupId, request.memberIds),
  );
}

export async function handleOffsetCommit({ reader, writer, version, broker }: RequestContext) {
  const response = await broker.coordinator.commitOffsets(
    decodeOffsetCommitRequest(reader, version),
  );
  encodeOffsetCommitResponse(writer, version, response);
}

export function handleOffsetFetch({ reader, writer, version, broker }: RequestContext): void {
  const response = broker.coordinator.fetchOffsets(decodeOffsetFetchRequest(reader, version));
  encodeOffsetFetchResponse(writer, version, response);
}

export function handleDescribeGroups({ reader, writer, version, broker }: RequestContext): void {
  const groupIds = decodeDescribeGroupsRequest(reader, version);
  encodeDescribeGroupsResponse(
    writer,
    version,
    groupIds.map((groupId) => broker.coordinator.describe(groupId)),
  );
}

export function handleListGroups({ writer, version, broker }: RequestContext): void {
  encodeListGroupsResponse(writer, version, broker.coordinator.list());
}

export async function handleDeleteGroups({ reader, writer, version, broker }: RequestContext) {
  const groupIds = decodeDeleteGroupsRequest(reader, version);
  const results = await Promise.all(
    groupIds.map(async (groupId) => ({
      groupId,
      errorCode: await broker.coordinator.deleteGroup(groupId),
    })),
  );
  encodeDeleteGroupsResponse(writer, version, results);
}
