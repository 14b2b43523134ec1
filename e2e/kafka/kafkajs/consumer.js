// A kafkajs group consumer for klagx's conformance suite. Prints one JSON
// object per line, like RefConsumer: "assigned" after every join (kafkajs'
// GROUP_JOIN event) with the generation and member id the client holds, and
// "closed" after a clean disconnect on SIGTERM.
//
// kafkajs has no public accessor for the generation: it is read from its
// ConsumerGroup when the GROUP_JOIN payload is built (which calls
// ConsumerGroup.prototype.assigned after the join and sync).
//
// usage: node consumer.js BOOTSTRAP TOPIC GROUP CLIENT_ID
'use strict'
const { Kafka, logLevel } = require('kafkajs')
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup')

const [bootstrap, topic, groupId, clientId] = process.argv.slice(2)
const emit = (event, fields = {}) =>
  process.stdout.write(JSON.stringify({ event, time_ms: Date.now(), ...fields }) + '\n')

let generation = -1
const assigned = ConsumerGroup.prototype.assigned
ConsumerGroup.prototype.assigned = function (...args) {
  generation = this.generationId
  return assigned.apply(this, args)
}

const kafka = new Kafka({ clientId, brokers: bootstrap.split(','), logLevel: logLevel.WARN })
const consumer = kafka.consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, rebalanceTimeout: 10000 })

consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
  const assignment = []
  for (const [t, parts] of Object.entries(payload.memberAssignment)) {
    for (const p of parts) assignment.push(`${t}-${p}`)
  }
  assignment.sort()
  emit('assigned', { generation, member: payload.memberId, assignment })
})

async function main () {
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  emit('started')
  await consumer.run({ eachMessage: async () => {} })
}

process.on('SIGTERM', async () => {
  await consumer.disconnect()
  emit('closed')
  process.exit(0)
})

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
