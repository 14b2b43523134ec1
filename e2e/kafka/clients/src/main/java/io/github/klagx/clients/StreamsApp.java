package io.github.klagx.clients;

import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Produced;

/**
 * A small Kafka Streams application (classic group protocol): counts the records of --input by value, through a
 * repartition topic, into --output. Prints one JSON line per state change, and "closed" after a clean close on
 * SIGTERM.
 *
 * <pre>
 * --bootstrap HOST:PORT,...  --app APPLICATION_ID  --input T  --output T  --state-dir DIR  [--commit-ms N]
 * </pre>
 */
public final class StreamsApp {
    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, a.require("app"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.require("bootstrap"));
        p.put(StreamsConfig.STATE_DIR_CONFIG, a.require("state-dir"));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, a.get("commit-ms", "500"));
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class.getName());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1");
        p.put("consumer.auto.offset.reset", "earliest");
        p.putAll(a.props);

        StreamsBuilder b = new StreamsBuilder();
        b.<String, String>stream(a.require("input"))
                .map((k, v) -> KeyValue.pair(v, v))
                .groupByKey()
                .count()
                .toStream()
                .to(a.require("output"), Produced.with(Serdes.String(), Serdes.Long()));
        KafkaStreams streams = new KafkaStreams(b.build(), p);
        CountDownLatch closed = new CountDownLatch(1);
        streams.setStateListener((now, before) -> Json.event("state").put("state", now.name()).put("from", before.name()).print());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close();
            Json.event("closed").print();
            closed.countDown();
        }));
        streams.start();
        closed.await();
    }
}
