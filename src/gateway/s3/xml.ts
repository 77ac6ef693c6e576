/**
 * The little XML S3 needs: a builder for responses (escaped text, the S3 namespace) and a strict parser
 * for the few request bodies (CreateBucketConfiguration, Delete, CompleteMultipartUpload). The parser
 * accepts elements, text, an XML declaration and comments; anything else is MalformedXML.
 */
import { S3Error } from './errors.js'

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/'

/** An element: name, children (elements or text), optional attributes. */
export interface XmlElement {
  readonly name: string
  readonly children: ReadonlyArray<XmlElement | string>
  readonly attributes?: Readonly<Record<string, string>>
}

/** Escapes text for element content and attribute values. */
export function escapeXml (text: string): string {
  return text.replace(/[<>&'"\r]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;', '\r': '&#13;' }[c] ?? c))
}

/**
 * A key or prefix for a listing with encoding-type=url: every byte but RFC 3986's unreserved characters
 * and '/' percent-encoded (UTF-8). encodeURIComponent leaves !'()* alone; S3 encodes them too.
 */
export function urlEncodeName (text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%2F/g, '/')
}

/** Shorthand: `el('Key', 'a.txt')`, `el('Contents', [el(...), …])`; undefined children are dropped. */
export function el (name: string, children: string | number | boolean | ReadonlyArray<XmlElement | string | undefined> = [], attributes?: Record<string, string>): XmlElement {
  const list = Array.isArray(children) ? children.filter((c): c is XmlElement | string => c !== undefined) : [String(children)]
  return { name, children: list, attributes }
}

function render (e: XmlElement): string {
  const attrs = Object.entries(e.attributes ?? {}).map(([k, v]) => ` ${k}="${escapeXml(v)}"`).join('')
  const inner = e.children.map((c) => typeof c === 'string' ? escapeXml(c) : render(c)).join('')
  return `<${e.name}${attrs}>${inner}</${e.name}>`
}

/** A whole document with the XML declaration; the root gets the S3 namespace unless it has attributes. */
export function xmlDocument (root: XmlElement): string {
  const withNs = root.attributes === undefined ? { ...root, attributes: { xmlns: S3_NAMESPACE } } : root
  return `<?xml version="1.0" encoding="UTF-8"?>\n${render(withNs)}`
}

/** Largest request body the parser accepts (DeleteObjects of 1000 keys of 1 KiB fits). */
export const MAX_XML_BODY = 2 * 1024 * 1024
const MAX_DEPTH = 32

/** Parses a document into its root element; throws S3Error MalformedXML saying where it went wrong. */
export function parseXml (text: string): XmlElement {
  let i = 0
  const fail = (why: string): never => { throw new S3Error('MalformedXML', `The XML you provided was not well-formed: ${why} (at offset ${i})`) }
  const skipMisc = (): void => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i])) i++
      if (text.startsWith('<?', i)) { const end = text.indexOf('?>', i); if (end < 0) fail('unterminated declaration'); i = end + 2; continue }
      if (text.startsWith('<!--', i)) { const end = text.indexOf('-->', i); if (end < 0) fail('unterminated comment'); i = end + 3; continue }
      return
    }
  }
  const decode = (raw: string): string => raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|apos|quot);/g, (_m, ent: string) => {
    if (ent[0] === '#') {
      const cp = ent[1] === 'x' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10)
      if (!Number.isFinite(cp) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail('bad character reference')
      return String.fromCodePoint(cp)
    }
    return ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' } as Record<string, string>)[ent]
  })
  const name = (): string => {
    const m = /^[A-Za-z_][\w.:-]*/.exec(text.slice(i, i + 256))
    if (m === null) fail('expected an element name')
    i += m![0].length
    return m![0]
  }
  const element = (depth: number): XmlElement => {
    if (depth > MAX_DEPTH) fail('nesting too deep')
    if (text[i] !== '<') fail('expected "<"')
    i++
    const tag = name()
    const attributes: Record<string, string> = {}
    for (;;) {
      while (/\s/.test(text[i] ?? '')) i++
      if (text.startsWith('/>', i)) { i += 2; return { name: tag, children: [], attributes } }
      if (text[i] === '>') { i++; break }
      const attr = name()
      while (/\s/.test(text[i] ?? '')) i++
      if (text[i] !== '=') fail('expected "=" after an attribute name')
      i++
      while (/\s/.test(text[i] ?? '')) i++
      const quote = text[i]
      if (quote !== '"' && quote !== "'") fail('attribute value must be quoted')
      const end = text.indexOf(quote, i + 1)
      if (end < 0) fail('unterminated attribute value')
      attributes[attr] = decode(text.slice(i + 1, end))
      i = end + 1
    }
    const children: Array<XmlElement | string> = []
    for (;;) {
      if (i >= text.length) fail(`element <${tag}> is not closed`)
      if (text.startsWith('</', i)) {
        i += 2
        const closing = name()
        if (closing !== tag) fail(`</${closing}> closes <${tag}>`)
        while (/\s/.test(text[i] ?? '')) i++
        if (text[i] !== '>') fail('expected ">"')
        i++
        return { name: tag, children, attributes }
      }
      if (text.startsWith('<!--', i)) { const end = text.indexOf('-->', i); if (end < 0) fail('unterminated comment'); i = end + 3; continue }
      if (text.startsWith('<![CDATA[', i)) { const end = text.indexOf(']]>', i); if (end < 0) fail('unterminated CDATA'); children.push(text.slice(i + 9, end)); i = end + 3; continue }
      if (text[i] === '<') { children.push(element(depth + 1)); continue }
      const next = text.indexOf('<', i)
      const raw = text.slice(i, next < 0 ? text.length : next)
      if (raw.includes('&') && !/^([^&]|&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|apos|quot);)*$/s.test(raw)) fail('bad entity')
      children.push(decode(raw))
      i = next < 0 ? text.length : next
    }
  }
  skipMisc()
  const root = element(0)
  skipMisc()
  if (i !== text.length) fail('content after the root element')
  return root
}

/** Child elements named `name` (namespace prefixes ignored). */
export function childrenNamed (e: XmlElement, name: string): XmlElement[] {
  return e.children.filter((c): c is XmlElement => typeof c !== 'string' && localName(c.name) === name)
}

/** The text of the first child named `name`, or undefined. */
export function childText (e: XmlElement, name: string): string | undefined {
  const c = childrenNamed(e, name)[0]
  return c === undefined ? undefined : textOf(c)
}

/** All text directly inside `e`. */
export function textOf (e: XmlElement): string {
  return e.children.filter((c): c is string => typeof c === 'string').join('')
}

export function localName (name: string): string {
  const colon = name.indexOf(':')
  return colon < 0 ? name : name.slice(colon + 1)
}
