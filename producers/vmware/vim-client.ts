/**
 * A vSphere Web Services client (vSphere API reference: ServiceInstance,
 * SessionManager.Login/Logout, PropertyCollector.RetrievePropertiesEx and
 * ContinueRetrievePropertiesEx, Task.info): SOAP 1.1 over HTTP(S) to `<server>/sdk`, the
 * session kept in the `vmware_soap_session` cookie that Login sets.
 *
 * Certificates: a CA file, or the server certificate's SHA-1 thumbprint (the form vCenter
 * shows, `AA:BB:…`, also what VDDK wants), or — for labs — no verification at all.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { describeError } from '../../errors/extentlog-error.js';
import { VsphereError } from './errors.js';
import {
  asArray,
  child,
  element,
  morefElement,
  moref,
  parseSoap,
  soapEnvelope,
  text,
  xsiType,
  type ManagedObjectReference,
  type SoapFault,
  type XmlNode,
  type XmlValue,
} from './soap-xml.js';

export interface VimConnectOptions {
  /** https://vcenter.example/sdk (or http:// for simulators). */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** PEM CA certificate(s) of the server. */
  readonly ca?: string | Buffer;
  /** SHA-1 thumbprint of the server certificate, AA:BB:…; checked instead of the CA. */
  readonly thumbprint?: string;
  /** false accepts any certificate (labs only). */
  readonly rejectUnauthorized?: boolean;
  readonly requestTimeoutMs?: number;
}

export interface ServiceContent {
  readonly rootFolder: ManagedObjectReference;
  readonly propertyCollector: ManagedObjectReference;
  readonly viewManager: ManagedObjectReference;
  readonly sessionManager: ManagedObjectReference;
  readonly apiVersion: string;
  readonly fullName: string;
}

/** One object of a property collector result: its reference and properties by path. */
export interface ObjectContent {
  readonly obj: ManagedObjectReference;
  readonly properties: ReadonlyMap<string, XmlNode>;
}

const SERVICE_INSTANCE: ManagedObjectReference = {
  type: 'ServiceInstance',
  value: 'ServiceInstance',
};
const AUTH_FAULTS = new Set(['InvalidLogin', 'NotAuthenticated', 'NoPermission', 'InvalidLocale']);

function normalizeThumbprint(thumbprint: string): string {
  return thumbprint.replace(/[^0-9a-f]/gi, '').toUpperCase();
}

/**
 * The objects of a RetrieveResult. A property the collector could not read comes in a
 * `missingSet` with its fault (NotAuthenticated, NoPermission, …): an error, never a
 * silently absent value.
 */
export function parseObjectContents(result: XmlValue | undefined, origin: string): ObjectContent[] {
  const objects: ObjectContent[] = [];
  for (const content of asArray(child(result, 'objects'))) {
    const obj = moref(child(content, 'obj'));
    if (obj === null) continue;
    const [missing] = asArray(child(content, 'missingSet'));
    if (missing !== undefined) {
      const faultType = xsiType(child(child(missing, 'fault'), 'fault')) ?? 'unknown fault';
      const path = text(child(missing, 'path'));
      throw new VsphereError(
        AUTH_FAULTS.has(faultType) ? 'EXTENTLOG_ERR_VSPHERE_AUTH' : 'EXTENTLOG_ERR_VSPHERE_FAULT',
        `${origin}: property ${path} of ${obj.type} ${obj.value} cannot be read: ${faultType}`,
        { details: { object: obj.value, path, faultType } },
      );
    }
    const properties = new Map<string, XmlNode>();
    for (const property of asArray(child(content, 'propSet'))) {
      const value = child(property, 'val');
      if (value !== undefined) properties.set(text(child(property, 'name')), value as XmlNode);
    }
    objects.push({ obj, properties });
  }
  return objects;
}

export class VimClient {
  readonly url: URL;
  #cookie: string | null = null;
  #serviceContent: ServiceContent | null = null;
  readonly #agent: http.Agent;
  readonly #thumbprint: string | null;
  /** Connections whose certificate matched the thumbprint. */
  readonly #verified = new WeakSet<object>();
  readonly #timeoutMs: number;
  readonly #soapAction: string;

  private constructor(options: VimConnectOptions, apiVersion: string) {
    this.url = new URL(options.url);
    this.#timeoutMs = options.requestTimeoutMs ?? 60_000;
    this.#soapAction = `urn:vim25/${apiVersion}`;
    this.#thumbprint =
      options.thumbprint === undefined ? null : normalizeThumbprint(options.thumbprint);
    this.#agent =
      this.url.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            ...(options.ca === undefined ? {} : { ca: options.ca }),
            // A thumbprint replaces chain verification (vCenter certificates are often
            // self-signed); it is checked on each new connection before anything is sent.
            rejectUnauthorized: this.#thumbprint === null && (options.rejectUnauthorized ?? true),
          })
        : new http.Agent({ keepAlive: true });
  }

  /** RetrieveServiceContent, then SessionManager.Login. */
  static async connect(options: VimConnectOptions): Promise<VimClient> {
    const client = new VimClient(options, '6.5');
    const content = await client.invoke('RetrieveServiceContent', SERVICE_INSTANCE, '');
    const about = child(content, 'about');
    const ref = (name: string) => {
      const value = moref(child(content, name));
      if (value === null)
        throw new VsphereError(
          'EXTENTLOG_ERR_VSPHERE_PROTOCOL',
          `${options.url}: the service content has no ${name}`,
        );
      return value;
    };
    client.#serviceContent = {
      rootFolder: ref('rootFolder'),
      propertyCollector: ref('propertyCollector'),
      viewManager: ref('viewManager'),
      sessionManager: ref('sessionManager'),
      apiVersion: text(child(about, 'apiVersion')),
      fullName: text(child(about, 'fullName')),
    };
    await client.invoke(
      'Login',
      client.serviceContent.sessionManager,
      element('userName', options.username) + element('password', options.password),
    );
    return client;
  }

  get serviceContent(): ServiceContent {
    if (this.#serviceContent === null) throw new Error('VimClient: not connected');
    return this.#serviceContent;
  }

  /** Calls `method` on `thisRef`; resolves with the `returnval` element (or undefined). */
  async invoke(
    method: string,
    thisRef: ManagedObjectReference,
    body: string,
  ): Promise<XmlValue | undefined> {
    const xml = await this.#post(method, soapEnvelope(method, thisRef, body));
    const parsed = parseSoap(xml.body);
    if (parsed === null)
      throw new VsphereError(
        'EXTENTLOG_ERR_VSPHERE_PROTOCOL',
        `${this.url.origin}: ${method} answered HTTP ${xml.status} with no SOAP body: ${xml.body.slice(0, 300)}`,
        { details: { method, status: xml.status } },
      );
    if ('fault' in parsed) throw this.#faultError(method, parsed.fault);
    return child(parsed.body, 'returnval');
  }

  /** RetrievePropertiesEx and ContinueRetrievePropertiesEx until the result has no token. */
  async retrieveProperties(specSet: string, maxObjects = 100): Promise<ObjectContent[]> {
    const collector = this.serviceContent.propertyCollector;
    const objects: ObjectContent[] = [];
    let result = await this.invoke(
      'RetrievePropertiesEx',
      collector,
      `<specSet>${specSet}</specSet><options>${element('maxObjects', maxObjects)}</options>`,
    );
    for (;;) {
      objects.push(...parseObjectContents(result, this.url.origin));
      const token = text(child(result, 'token'));
      if (token === '') return objects;
      result = await this.invoke(
        'ContinueRetrievePropertiesEx',
        collector,
        element('token', token),
      );
    }
  }

  /** Properties of one object. */
  async objectProperties(
    obj: ManagedObjectReference,
    paths: readonly string[],
  ): Promise<ObjectContent> {
    const [content] = await this.retrieveProperties(
      `<propSet>${element('type', obj.type)}${paths.map((path) => element('pathSet', path)).join('')}</propSet>` +
        `<objectSet>${morefElement('obj', obj)}</objectSet>`,
    );
    if (content === undefined)
      throw new VsphereError(
        'EXTENTLOG_ERR_VSPHERE_NOT_FOUND',
        `${this.url.origin}: ${obj.type} ${obj.value} does not exist (any more)`,
        { details: { object: obj.value } },
      );
    return content;
  }

  /** Polls Task.info until success (resolves with info.result) or error. */
  async waitForTask(
    task: ManagedObjectReference,
    what: string,
    timeoutMs = 600_000,
  ): Promise<XmlNode | undefined> {
    const deadline = Date.now() + timeoutMs;
    let delayMs = 50;
    for (;;) {
      const { properties } = await this.objectProperties(task, [
        'info.state',
        'info.error',
        'info.result',
      ]);
      const state = text(properties.get('info.state'));
      if (state === 'success') return properties.get('info.result');
      if (state === 'error') {
        const error = properties.get('info.error');
        const faultType = xsiType(child(error, 'fault')) ?? 'unknown fault';
        const message = text(child(error, 'localizedMessage')) || faultType;
        throw new VsphereError(
          'EXTENTLOG_ERR_VSPHERE_TASK',
          `${what} (task ${task.value}) failed: ${message} (${faultType})`,
          { details: { task: task.value, faultType } },
        );
      }
      if (Date.now() > deadline)
        throw new VsphereError(
          'EXTENTLOG_ERR_VSPHERE_TASK',
          `${what} (task ${task.value}) did not finish within ${timeoutMs} ms (state ${state})`,
          { details: { task: task.value, state } },
        );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, 1000);
    }
  }

  async logout(): Promise<void> {
    try {
      if (this.#cookie !== null)
        await this.invoke('Logout', this.serviceContent.sessionManager, '');
    } finally {
      this.#cookie = null;
      this.#agent.destroy();
    }
  }

  #faultError(method: string, fault: SoapFault): VsphereError {
    const message = `${this.url.origin}: ${method} failed with ${fault.faultType}${fault.faultString ? `: ${fault.faultString}` : ''}`;
    return new VsphereError(
      AUTH_FAULTS.has(fault.faultType)
        ? 'EXTENTLOG_ERR_VSPHERE_AUTH'
        : 'EXTENTLOG_ERR_VSPHERE_FAULT',
      message,
      { details: { method, faultType: fault.faultType, faultString: fault.faultString } },
    );
  }

  #post(method: string, body: string): Promise<{ status: number; body: string }> {
    const transport = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(
        this.url,
        {
          method: 'POST',
          agent: this.#agent,
          timeout: this.#timeoutMs,
          headers: {
            'Content-Type': 'text/xml; charset=utf-8',
            SOAPAction: this.#soapAction,
            'Content-Length': Buffer.byteLength(body),
            ...(this.#cookie === null ? {} : { Cookie: this.#cookie }),
          },
        },
        (response) => {
          const setCookie = response.headers['set-cookie']?.find((cookie) =>
            cookie.startsWith('vmware_soap_session='),
          );
          if (setCookie !== undefined) this.#cookie = setCookie.split(';')[0]!;
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          response.on('error', reject);
        },
      );
      request.on('timeout', () =>
        request.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)),
      );
      request.on('error', (error) =>
        reject(
          new VsphereError(
            'EXTENTLOG_ERR_VSPHERE_CONNECT',
            `cannot reach vSphere at ${this.url.origin} for ${method}: ${describeError(error)}`,
            { cause: error, details: { url: this.url.origin, method } },
          ),
        ),
      );
      if (this.#thumbprint === null) request.end(body);
      else
        request.once('socket', (socket) =>
          this.#whenVerified(socket as TLSSocket, request, () => request.end(body)),
        );
    });
  }

  /** Sends only on a connection whose certificate has the configured thumbprint. */
  #whenVerified(socket: TLSSocket, request: http.ClientRequest, send: () => void): void {
    const check = () => {
      const raw = socket.getPeerCertificate()?.raw;
      const actual =
        raw === undefined ? '' : createHash('sha1').update(raw).digest('hex').toUpperCase();
      if (actual !== this.#thumbprint) {
        const colons = (hex: string) => hex.match(/../g)?.join(':') ?? 'none';
        request.destroy(
          new Error(
            `the server certificate's SHA-1 thumbprint ${colons(actual)} is not the configured ${colons(this.#thumbprint!)}`,
          ),
        );
        return;
      }
      this.#verified.add(socket);
      send();
    };
    if (this.#verified.has(socket)) send();
    else if (socket.encrypted && socket.getPeerCertificate()?.raw !== undefined) check();
    else socket.once('secureConnect', check);
  }
}
