/**
 * SOAP 1.1 envelopes of the vSphere Web Services API (namespace `urn:vim25`): building
 * request bodies with escaped text and typed managed object references, and reading
 * responses — the method's `<…Response><returnval>` or a `<soapenv:Fault>` whose
 * `<detail>` element carries the vSphere fault type in `xsi:type` (vSphere Web Services
 * SDK Programming Guide, "SOAP faults").
 *
 *   <soapenv:Envelope …><soapenv:Body>
 *     <Method xmlns="urn:vim25"><_this type="ManagedType">moref</_this> … </Method>
 *   </soapenv:Body></soapenv:Envelope>
 *
 * Parsed XML keeps text as strings (longs stay exact) and attributes under `@_name`;
 * elements that may repeat are read with `asArray`.
 */
import { XMLParser } from 'fast-xml-parser';

export interface ManagedObjectReference {
  readonly type: string;
  readonly value: string;
}

/** A parsed XML element: text, or children by name (attributes under '@_…', text under '#text'). */
export type XmlNode = string | { readonly [name: string]: XmlValue };
export type XmlValue = XmlNode | readonly XmlNode[];

export interface SoapFault {
  readonly faultType: string;
  readonly faultString: string;
  readonly detail: XmlNode | undefined;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Tags lose their namespace prefix; attributes keep it: `type` (a moref's type) and
  // `xsi:type` (a value's type) can sit on one element.
  transformTagName: (name) => name.replace(/^.*:/, ''),
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
});

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** `<name>text</name>` with the text escaped. */
export function element(name: string, value: string | number | boolean | bigint): string {
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<name type="Type">value</name>`: a managed object reference. */
export function morefElement(name: string, ref: ManagedObjectReference): string {
  return `<${name} type="${escapeXml(ref.type)}">${escapeXml(ref.value)}</${name}>`;
}

export function soapEnvelope(
  method: string,
  thisRef: ManagedObjectReference,
  body: string,
): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"' +
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"' +
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body><${method} xmlns="urn:vim25">${morefElement('_this', thisRef)}${body}</${method}>` +
    '</soapenv:Body></soapenv:Envelope>'
  );
}

/** A response envelope (for servers and emulators speaking the same SOAP). */
export function soapResponse(method: string, returnval: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"' +
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"' +
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body><${method}Response xmlns="urn:vim25">${returnval}</${method}Response>` +
    '</soapenv:Body></soapenv:Envelope>'
  );
}

/** A fault envelope: `faultType` is the vSphere fault (FileFault, InvalidArgument, …). */
export function soapFault(faultType: string, faultString: string, detailXml = ''): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"' +
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"' +
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    '<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode>' +
    `${element('faultstring', faultString)}<detail><${faultType}Fault xmlns="urn:vim25" xsi:type="${escapeXml(faultType)}">${detailXml}</${faultType}Fault></detail>` +
    '</soapenv:Fault></soapenv:Body></soapenv:Envelope>'
  );
}

/** The SOAP body's elements by name (a request's method, a response, a fault). */
export function parseEnvelope(xml: string): Record<string, XmlNode> | null {
  let document: Record<string, unknown>;
  try {
    document = parser.parse(xml) as Record<string, unknown>;
  } catch {
    return null;
  }
  const envelope = document.Envelope as Record<string, unknown> | undefined;
  const body = envelope?.Body as Record<string, XmlNode> | undefined;
  return body === undefined || typeof body !== 'object' ? null : body;
}

/** The child of the SOAP body: the method response, or a fault. */
export function parseSoap(xml: string): { body: XmlNode } | { fault: SoapFault } | null {
  const body = parseEnvelope(xml);
  if (body === null) return null;
  const fault = body.Fault as Record<string, XmlNode> | undefined;
  if (fault !== undefined) {
    const detail = fault.detail;
    let faultType = 'SystemError';
    if (typeof detail === 'object' && detail !== null) {
      const [name, node] = Object.entries(detail).find(([key]) => !key.startsWith('@_')) ?? [];
      const typed = xsiType(node as XmlValue | undefined);
      if (typed !== undefined) faultType = typed;
      else if (name !== undefined) faultType = name.replace(/Fault$/, '');
    }
    return {
      fault: {
        faultType,
        faultString: text(fault.faultstring),
        detail: detail as XmlNode | undefined,
      },
    };
  }
  const [, response] = Object.entries(body).find(([key]) => !key.startsWith('@_')) ?? [];
  return response === undefined ? null : { body: response };
}

/** Elements that may occur once or many times, as an array. */
export function asArray(value: XmlValue | undefined): readonly XmlNode[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly XmlNode[]) : [value as XmlNode];
}

/** A child element, or undefined. */
export function child(node: XmlValue | undefined, name: string): XmlValue | undefined {
  if (node === undefined || typeof node === 'string' || Array.isArray(node)) return undefined;
  return (node as Record<string, XmlValue>)[name];
}

/** The text of an element (also of one with attributes). */
export function text(node: XmlValue | undefined): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node;
  if (Array.isArray(node)) return text(node[0]);
  const value = (node as Record<string, XmlValue>)['#text'];
  return typeof value === 'string' ? value : '';
}

export function attribute(node: XmlValue | undefined, name: string): string | undefined {
  if (node === undefined || typeof node === 'string' || Array.isArray(node)) return undefined;
  const value = (node as Record<string, XmlValue>)[`@_${name}`];
  return typeof value === 'string' ? value : undefined;
}

/** The xsi:type of an element, without its namespace prefix. */
export function xsiType(node: XmlValue | undefined): string | undefined {
  if (node === undefined || typeof node === 'string' || Array.isArray(node)) return undefined;
  for (const [key, value] of Object.entries(node as Record<string, XmlValue>))
    if (key.startsWith('@_') && key.endsWith(':type') && typeof value === 'string')
      return value.replace(/^.*:/, '');
  return undefined;
}

export function moref(node: XmlValue | undefined): ManagedObjectReference | null {
  const type = attribute(node, 'type');
  const value = text(node);
  return type === undefined || value === '' ? null : { type, value };
}
