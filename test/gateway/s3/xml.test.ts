/**
 * The S3 XML helpers: escaping (checked against the XML 1.0 rules by re-parsing), the parser on the
 * request documents clients send, and MalformedXML for everything that isn't well-formed.
 */
import { describe, expect, it } from 'vitest'
import { childrenNamed, childText, el, escapeXml, parseXml, textOf, urlEncodeName, xmlDocument } from '../../../src/gateway/s3/xml.js'

describe('S3 XML', () => {
  it('escapes markup characters and round-trips through the parser', () => {
    expect(escapeXml(`<a & 'b' "c">`)).toBe('&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;')
    const key = `weird <key> & 'quotes' "too" ünï\u{1F600}`
    const doc = xmlDocument(el('ListBucketResult', [el('Name', 'b'), el('Contents', [el('Key', key), el('Size', 12)])]))
    expect(doc.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">')).toBe(true)
    const parsed = parseXml(doc)
    expect(childText(childrenNamed(parsed, 'Contents')[0], 'Key')).toBe(key)
    expect(childText(childrenNamed(parsed, 'Contents')[0], 'Size')).toBe('12')
  })

  it('parses the documents clients send (namespaces, declarations, whitespace, entities)', () => {
    const del = parseXml(`<?xml version="1.0" encoding="UTF-8"?>
      <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
        <Object><Key>a&amp;b</Key></Object><Object><Key>&#x263A;&#65;</Key><VersionId>null</VersionId></Object>
      </Delete>`)
    expect(del.name).toBe('Delete')
    expect(childText(del, 'Quiet')).toBe('true')
    expect(childrenNamed(del, 'Object').map((o) => childText(o, 'Key'))).toEqual(['a&b', '☺A'])
    const cfg = parseXml('<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>')
    expect(childText(cfg, 'LocationConstraint')).toBe('')
    expect(textOf(parseXml('<a><![CDATA[<not markup>]]></a>'))).toBe('<not markup>')
  })

  it('refuses malformed documents with MalformedXML', () => {
    for (const bad of ['', '<a>', '<a></b>', '<a>x</a><b/>', 'text', '<a b=c/>', '<a>&bogus;</a>', '<a>&#xD800;</a>', '<1a/>', '<a><!-- unterminated</a>',
      '<a>' + '<b>'.repeat(40) + '</b>'.repeat(40) + '</a>']) {
      expect(() => parseXml(bad), JSON.stringify(bad.slice(0, 30))).toThrowError(expect.objectContaining({ code: 'MalformedXML' }))
    }
  })

  it('url-encodes listing names as S3 does (RFC 3986 unreserved and "/" kept, UTF-8 bytes)', () => {
    // Expected values written out by hand from RFC 3986 §2.3 and the UTF-8 encoding of "ü" (C3 BC).
    expect(urlEncodeName("dir/a!b'c(d)e*f")).toBe('dir/a%21b%27c%28d%29e%2Af')
    expect(urlEncodeName('sp ace+plus~tilde-._ü\n')).toBe('sp%20ace%2Bplus~tilde-._%C3%BC%0A')
  })
})
