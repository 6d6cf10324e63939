/**
 * The EC2 calls the EBS source and target use (EC2 Query API, version 2016-11-15, signing
 * name `ec2`): form-encoded `POST /` with `Action=…&Version=…`, lists flattened as
 * `SnapshotId.1`, `Filter.1.Name`, `Filter.1.Value.1`, `TagSpecification.1.Tag.1.Key`.
 * Answers are XML in the `http://ec2.amazonaws.com/doc/2016-11-15/` namespace; errors are
 * `<Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors>
 * <RequestID>…</RequestID></Response>`.
 *
 *   CreateSnapshot (VolumeId)                       → snapshotId, status pending, …
 *   CreateSnapshots (InstanceSpecification.InstanceId, ExcludeBootVolume)
 *                                                   → snapshotSet of SnapshotInfo (state)
 *   DescribeSnapshots (SnapshotId.N, Filter.N: tag:<key>, volume-id, status)
 *   DeleteSnapshot (SnapshotId)                     → return true
 *   DescribeVolumes (VolumeId.N, Filter.N: attachment.instance-id)
 *   CreateTags (ResourceId.N of snapshots, Tag.N.Key / Tag.N.Value)
 *   DescribeInstances (InstanceId.N)                → reservationSet, rootDeviceName
 *
 * Instances exist through their volumes' attachments; the root device is /dev/xvda.
 */
import { ApiError, type ApiResponse } from './api-error.js';
import type { Snapshot, SnapshotStore, Volume } from './snapshot-store.js';

export interface Ec2Context {
  readonly store: SnapshotStore;
  readonly ownerId: string;
  readonly requestId: string;
  readonly availabilityZone: string;
}

const NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ROOT_DEVICE = '/dev/xvda';

function escapeXml(value: string): string {
  return value.replace(/[<>&'"]/g, (char) =>
    char === '<'
      ? '&lt;'
      : char === '>'
        ? '&gt;'
        : char === '&'
          ? '&amp;'
          : char === "'"
            ? '&apos;'
            : '&quot;',
  );
}

function element(name: string, value: string | number | boolean | null | undefined): string {
  return value === null || value === undefined
    ? ''
    : `<${name}>${escapeXml(String(value))}</${name}>`;
}

function xmlResponse(action: string, context: Ec2Context, inner: string): ApiResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NAMESPACE}">${element('requestId', context.requestId)}${inner}</${action}Response>`,
  };
}

export function ec2ErrorBody(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${element('Code', code)}${element('Message', message)}</Error></Errors>${element('RequestID', requestId)}</Response>`;
}

/** `Prefix.1`, `Prefix.2`, … until one is missing. */
function listParam(params: URLSearchParams, prefix: string): string[] {
  const values: string[] = [];
  for (let index = 1; params.has(`${prefix}.${index}`); index++)
    values.push(params.get(`${prefix}.${index}`)!);
  return values;
}

function filters(params: URLSearchParams): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (let index = 1; params.has(`Filter.${index}.Name`); index++)
    result.set(params.get(`Filter.${index}.Name`)!, listParam(params, `Filter.${index}.Value`));
  return result;
}

function snapshotTags(params: URLSearchParams): Map<string, string> {
  const tags = new Map<string, string>();
  for (let spec = 1; params.has(`TagSpecification.${spec}.ResourceType`); spec++) {
    if (params.get(`TagSpecification.${spec}.ResourceType`) !== 'snapshot')
      throw new ApiError(400, 'InvalidParameterValue', 'Tags can be applied to snapshots only.');
    for (let tag = 1; params.has(`TagSpecification.${spec}.Tag.${tag}.Key`); tag++)
      tags.set(
        params.get(`TagSpecification.${spec}.Tag.${tag}.Key`)!,
        params.get(`TagSpecification.${spec}.Tag.${tag}.Value`) ?? '',
      );
  }
  return tags;
}

function tagSet(tags: Map<string, string>): string {
  if (tags.size === 0) return '';
  return `<tagSet>${[...tags].map(([key, value]) => `<item>${element('key', key)}${element('value', value)}</item>`).join('')}</tagSet>`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Snapshot fields shared by CreateSnapshot, DescribeSnapshots (`status`) and SnapshotInfo (`state`). */
function snapshotFields(
  snapshot: Snapshot,
  context: Ec2Context,
  stateName: 'status' | 'state',
): string {
  return (
    element('snapshotId', snapshot.snapshotId) +
    element('volumeId', snapshot.volumeId) +
    element(stateName, snapshot.state) +
    (stateName === 'status' ? element('statusMessage', snapshot.stateMessage) : '') +
    element('startTime', iso(snapshot.startedAtMs)) +
    element('progress', snapshot.state === 'completed' ? '100%' : '0%') +
    element('ownerId', context.ownerId) +
    element('volumeSize', snapshot.sizeGiB) +
    element('description', snapshot.description) +
    element('encrypted', false) +
    element('storageTier', 'standard') +
    tagSet(snapshot.tags)
  );
}

function volumeOf(context: Ec2Context, volumeId: string | null): Volume {
  const volume = volumeId === null ? undefined : context.store.volumes.get(volumeId);
  if (volume === undefined)
    throw new ApiError(400, 'InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
  return volume;
}

async function createSnapshot(context: Ec2Context, params: URLSearchParams): Promise<ApiResponse> {
  const volume = volumeOf(context, params.get('VolumeId'));
  const snapshot = await context.store.snapshotVolume(
    volume,
    params.get('Description') ?? '',
    snapshotTags(params),
  );
  return xmlResponse('CreateSnapshot', context, snapshotFields(snapshot, context, 'status'));
}

async function createSnapshots(context: Ec2Context, params: URLSearchParams): Promise<ApiResponse> {
  const instanceId = params.get('InstanceSpecification.InstanceId');
  const volumes = [...context.store.volumes.values()].filter(
    (volume) => volume.instanceId !== null && volume.instanceId === instanceId,
  );
  if (volumes.length === 0)
    throw new ApiError(
      400,
      'InvalidInstanceID.NotFound',
      `The instance ID '${instanceId}' does not exist`,
    );
  const excludeBoot = params.get('InstanceSpecification.ExcludeBootVolume') === 'true';
  const excluded = new Set(listParam(params, 'InstanceSpecification.ExcludeDataVolumeId'));
  const tags = snapshotTags(params);
  const chosen = volumes.filter(
    (volume) => !(excludeBoot && volume.device === ROOT_DEVICE) && !excluded.has(volume.volumeId),
  );
  // One instant for every volume: the copies are taken back to back before answering.
  const snapshots: Snapshot[] = [];
  for (const volume of chosen)
    snapshots.push(
      await context.store.snapshotVolume(volume, params.get('Description') ?? '', new Map(tags)),
    );
  return xmlResponse(
    'CreateSnapshots',
    context,
    `<snapshotSet>${snapshots.map((snapshot) => `<item>${snapshotFields(snapshot, context, 'state')}</item>`).join('')}</snapshotSet>`,
  );
}

function matches(snapshot: Snapshot, filter: Map<string, string[]>): boolean {
  for (const [name, values] of filter) {
    const actual = name.startsWith('tag:')
      ? snapshot.tags.get(name.slice(4))
      : name === 'volume-id'
        ? snapshot.volumeId
        : name === 'status'
          ? snapshot.state
          : name === 'snapshot-id'
            ? snapshot.snapshotId
            : undefined;
    if (name === 'owner-id') continue;
    if (actual === undefined || !values.includes(actual)) return false;
  }
  return true;
}

function describeSnapshots(context: Ec2Context, params: URLSearchParams): ApiResponse {
  const ids = listParam(params, 'SnapshotId');
  for (const id of ids)
    if (!context.store.snapshots.has(id))
      throw new ApiError(400, 'InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
  const filter = filters(params);
  const chosen = (
    ids.length > 0
      ? ids.map((id) => context.store.snapshots.get(id)!)
      : [...context.store.snapshots.values()]
  ).filter((snapshot) => matches(snapshot, filter));
  for (const snapshot of chosen) {
    context.store.expireIdle(snapshot, Date.now());
    // A snapshot completes after it was looked at a few times: callers must poll.
    if (snapshot.state === 'pending' && !snapshot.writable) {
      snapshot.describesUntilCompleted -= 1;
      if (snapshot.describesUntilCompleted <= 0) snapshot.state = 'completed';
    }
  }
  return xmlResponse(
    'DescribeSnapshots',
    context,
    `<snapshotSet>${chosen.map((snapshot) => `<item>${snapshotFields(snapshot, context, 'status')}</item>`).join('')}</snapshotSet>`,
  );
}

function deleteSnapshot(context: Ec2Context, params: URLSearchParams): ApiResponse {
  const id = params.get('SnapshotId') ?? '';
  if (!context.store.snapshots.delete(id))
    throw new ApiError(400, 'InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
  return xmlResponse('DeleteSnapshot', context, element('return', true));
}

function createTags(context: Ec2Context, params: URLSearchParams): ApiResponse {
  const ids = listParam(params, 'ResourceId');
  const snapshots = ids.map((id) => {
    const snapshot = context.store.snapshots.get(id);
    if (snapshot === undefined)
      throw new ApiError(400, 'InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
    return snapshot;
  });
  for (let tag = 1; params.has(`Tag.${tag}.Key`); tag++)
    for (const snapshot of snapshots)
      snapshot.tags.set(params.get(`Tag.${tag}.Key`)!, params.get(`Tag.${tag}.Value`) ?? '');
  return xmlResponse('CreateTags', context, element('return', true));
}

function describeVolumes(context: Ec2Context, params: URLSearchParams): ApiResponse {
  const ids = listParam(params, 'VolumeId');
  const filter = filters(params);
  const instanceFilter = filter.get('attachment.instance-id');
  const volumes = (
    ids.length > 0 ? ids.map((id) => volumeOf(context, id)) : [...context.store.volumes.values()]
  ).filter(
    (volume) =>
      instanceFilter === undefined ||
      (volume.instanceId !== null && instanceFilter.includes(volume.instanceId)),
  );
  const items = volumes.map((volume) => {
    const attachment =
      volume.instanceId === null
        ? ''
        : `<attachmentSet><item>${element('volumeId', volume.volumeId)}${element('instanceId', volume.instanceId)}${element('device', volume.device)}${element('status', 'attached')}${element('attachTime', iso(volume.createdAtMs))}${element('deleteOnTermination', false)}</item></attachmentSet>`;
    return `<item>${element('volumeId', volume.volumeId)}${element('size', volume.sizeGiB)}${element('snapshotId', '')}${element('availabilityZone', context.availabilityZone)}${element('status', volume.instanceId === null ? 'available' : 'in-use')}${element('createTime', iso(volume.createdAtMs))}${attachment}${element('volumeType', 'gp3')}${element('encrypted', false)}${element('multiAttachEnabled', false)}</item>`;
  });
  return xmlResponse('DescribeVolumes', context, `<volumeSet>${items.join('')}</volumeSet>`);
}

function describeInstances(context: Ec2Context, params: URLSearchParams): ApiResponse {
  const known = new Set(
    [...context.store.volumes.values()].flatMap((volume) =>
      volume.instanceId === null ? [] : [volume.instanceId],
    ),
  );
  const ids = listParam(params, 'InstanceId');
  for (const id of ids)
    if (!known.has(id))
      throw new ApiError(
        400,
        'InvalidInstanceID.NotFound',
        `The instance ID '${id}' does not exist`,
      );
  const items = (ids.length > 0 ? ids : [...known]).map(
    (id) =>
      `<item>${element('reservationId', `r-${id.slice(2)}`)}${element('ownerId', context.ownerId)}<instancesSet><item>${element('instanceId', id)}${element('rootDeviceType', 'ebs')}${element('rootDeviceName', ROOT_DEVICE)}<instanceState>${element('code', 16)}${element('name', 'running')}</instanceState></item></instancesSet></item>`,
  );
  return xmlResponse(
    'DescribeInstances',
    context,
    `<reservationSet>${items.join('')}</reservationSet>`,
  );
}

export async function handleEc2(
  context: Ec2Context,
  params: URLSearchParams,
): Promise<ApiResponse> {
  if (params.get('Version') !== '2016-11-15')
    throw new ApiError(
      400,
      'InvalidParameterValue',
      `Version ${params.get('Version')} is not supported.`,
    );
  switch (params.get('Action')) {
    case 'CreateSnapshot':
      return createSnapshot(context, params);
    case 'CreateSnapshots':
      return createSnapshots(context, params);
    case 'DescribeSnapshots':
      return describeSnapshots(context, params);
    case 'DeleteSnapshot':
      return deleteSnapshot(context, params);
    case 'DescribeVolumes':
      return describeVolumes(context, params);
    case 'CreateTags':
      return createTags(context, params);
    case 'DescribeInstances':
      return describeInstances(context, params);
    default:
      throw new ApiError(
        400,
        'InvalidAction',
        `The action ${params.get('Action')} is not valid for this web service.`,
      );
  }
}
