package io.github.klagx.clients;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The reference consumer: a KafkaConsumer subscribed with a rebalance listener that prints, as one JSON line per
 * event, the generation (classic) or member epoch (KIP-848) the client holds, its member id and its assignment.
 *
 * <pre>
 * --bootstrap HOST:PORT,...  --topics T1,T2  --group G
 * --protocol classic|consumer      (group.protocol; default classic)
 * --assignor range|roundrobin|sticky|cooperative-sticky   (classic: partition.assignment.strategy)
 *            uniform|range                                (consumer: group.remote.assignor)
 * --instance ID                    (group.instance.id: static membership)
 * --commit sync|auto|none          (commitSync after each non-empty poll; default sync)
 * --session-ms N                   (session.timeout.ms, classic only)
 * --prop key=value                 (any client property; repeatable)
 * </pre>
 *
 * Events: started; assigned, revoked, lost (listener calls, with "added"/"removed" partitions and the full
 * "assignment" after the call); generation (the generation or epoch changed after a poll, also when the assignment
 * did not); closed (after a clean close on SIGTERM). SIGKILL prints nothing, as a crash would.
 */
public final class RefConsumer {
    public static void main(String[] argv) throws Exception {
        Args a = new Args(argv);
        String protocol = a.get("protocol", "classic");
        String commit = a.get("commit", "sync");
        String instance = a.get("instance", "");
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, a.require("bootstrap"));
        p.put(ConsumerConfig.GROUP_ID_CONFIG, a.require("group"));
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, String.valueOf(commit.equals("auto")));
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        String assignor = a.get("assignor", "");
        if (protocol.equals("classic")) {
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignorClass(assignor.isEmpty() ? "range" : assignor));
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, a.get("session-ms", "10000"));
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
        } else if (!assignor.isEmpty()) {
            p.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, assignor);
        }
        if (!instance.isEmpty()) {
            p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instance);
        }
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, instance.isEmpty() ? "ref-" + ProcessHandle.current().pid() : instance);
        p.putAll(a.props);

        KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p);
        AtomicBoolean closing = new AtomicBoolean();
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            closing.set(true);
            c.wakeup();
            try {
                closed.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        List<String> topics = Arrays.asList(a.require("topics").split(","));
        c.subscribe(topics, new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                report(c, "assigned", "added", parts);
            }

            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                report(c, "revoked", "removed", parts);
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> parts) {
                report(c, "lost", "removed", parts);
            }
        });
        Json.event("started").put("protocol", protocol).put("instance", instance).print();
        long consumed = 0;
        int lastGen = Integer.MIN_VALUE;
        try {
            while (!closing.get()) {
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(200));
                consumed += recs.count();
                if (!recs.isEmpty() && commit.equals("sync")) {
                    c.commitSync();
                }
                ConsumerGroupMetadata md = c.groupMetadata();
                if (md.generationId() != lastGen) {
                    lastGen = md.generationId();
                    Json.event("generation").put("generation", lastGen).put("member", md.memberId())
                            .put("assignment", names(c.assignment())).put("consumed", consumed).print();
                }
            }
        } catch (WakeupException e) {
            // SIGTERM: close below.
        } finally {
            c.close();
            Json.event("closed").put("consumed", consumed).print();
            closed.countDown();
        }
    }

    private static void report(KafkaConsumer<byte[], byte[]> c, String event, String key, Collection<TopicPartition> parts) {
        ConsumerGroupMetadata md = c.groupMetadata();
        Json.event(event).put("generation", md.generationId()).put("member", md.memberId())
                .put("instance", md.groupInstanceId().orElse("")).put(key, names(parts))
                .put("assignment", names(c.assignment())).print();
    }

    private static List<String> names(Collection<TopicPartition> parts) {
        TreeSet<String> s = new TreeSet<>();
        for (TopicPartition tp : parts) s.add(tp.topic() + "-" + tp.partition());
        return new ArrayList<>(s);
    }

    private static String assignorClass(String name) {
        return switch (name) {
            case "range" -> "org.apache.kafka.clients.consumer.RangeAssignor";
            case "roundrobin" -> "org.apache.kafka.clients.consumer.RoundRobinAssignor";
            case "sticky" -> "org.apache.kafka.clients.consumer.StickyAssignor";
            case "cooperative-sticky" -> "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
            default -> throw new IllegalArgumentException("unknown assignor " + name);
        };
    }
}
