// Sends track, page, identify, alias and batched calls through the official client, unmodified, to our host.
// Usage: node send.mjs <host> <writeKey> <runId>. Prints one JSON line: the messageIds sent and the HTTP statuses seen.
import { Analytics } from '@segment/analytics-node'

const [host, writeKey, runId] = process.argv.slice(2)
const analytics = new Analytics({ writeKey, host, flushAt: 3, flushInterval: 10000, maxRetries: 2 })
const errors = []
const statuses = []
const paths = new Set()
analytics.on('error', (err) => errors.push(String(err?.reason ?? err?.code ?? err)))
analytics.on('http_response', (res) => { statuses.push(res.status); paths.add(new URL(res.url).pathname) })

const lead = `npm-lead-${runId}`
const anon = `npm-anon-${runId}`
const id = (name) => `${runId}-${name}`

analytics.page({ anonymousId: anon, category: 'Pricing', name: 'Plans', properties: { url: 'https://example.io/pricing' }, messageId: id('page') })
analytics.track({ anonymousId: anon, event: 'Whitepaper Downloaded', properties: { title: 'ROI guide' }, messageId: id('download') })
analytics.identify({
  userId: lead, anonymousId: anon, messageId: id('identify'),
  traits: { email: 'ana@acme.io', title: 'VP Engineering', employees: 400, industry: 'software', address: { country: 'us' } },
})
analytics.alias({ userId: lead, previousId: anon, messageId: id('alias') })
analytics.track({ userId: lead, event: 'Demo Requested', messageId: id('demo') })
analytics.track({ userId: lead, event: 'Added to Cart', properties: { sku: 'A-1' }, messageId: id('custom') })
analytics.screen({ userId: lead, name: 'Case Studies', messageId: id('screen') })

await analytics.closeAndFlush({ timeout: 30000 })
console.log(JSON.stringify({ errors, statuses, paths: [...paths] }))
process.exit(errors.length === 0 ? 0 : 1)
