"""A python3-kafka (kafka-python) group consumer for the conformance suite.

Prints one JSON object per line, like RefConsumer: "assigned" and "revoked"
from its rebalance listener, with the generation and member id the client
holds (kafka-python keeps them in its coordinator; there is no public
accessor), and "closed" after a clean close on SIGTERM.

usage: consumer.py BOOTSTRAP TOPIC GROUP
"""
import json
import signal
import sys
import time

from kafka import ConsumerRebalanceListener, KafkaConsumer


def emit(event, **fields):
    fields.update(event=event, time_ms=int(time.time() * 1000))
    print(json.dumps(fields), flush=True)


def generation(consumer):
    gen = getattr(consumer._coordinator, "_generation", None)
    if gen is None:
        return -1, ""
    return gen.generation_id, gen.member_id


class Listener(ConsumerRebalanceListener):
    def __init__(self):
        self.consumer = None

    def report(self, event, parts):
        gen, member = generation(self.consumer)
        names = sorted("%s-%d" % (p.topic, p.partition) for p in self.consumer.assignment())
        emit(event, generation=gen, member=member, assignment=names if event == "assigned" else [])

    def on_partitions_revoked(self, revoked):
        self.report("revoked", revoked)

    def on_partitions_assigned(self, assigned):
        self.report("assigned", assigned)


def main():
    bootstrap, topic, group = sys.argv[1:4]
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=6000, heartbeat_interval_ms=500,
                             api_version=(2, 5, 0))
    listener = Listener()
    listener.consumer = consumer
    consumer.subscribe([topic], listener=listener)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    emit("started")
    while not stop:
        if consumer.poll(timeout_ms=200):
            consumer.commit()
    consumer.close()
    emit("closed")


if __name__ == "__main__":
    main()
