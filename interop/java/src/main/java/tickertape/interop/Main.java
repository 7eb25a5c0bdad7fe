package tickertape.interop;

import java.time.Duration;
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.*;

/**
 * The Apache Kafka Java client against tickertape: Admin (create, describe and delete topics,
 * describe configs, list groups), an idempotent producer with acks=all, consumers in a group
 * that commit and resume, and a consume-transform-produce loop in transactions
 * (sendOffsetsToTransaction) read back with isolation.level=read_committed. Prints one line per
 * check and exits non-zero on any failure.
 */
public class Main {
  static int failed = 0;

  static void check(String name, boolean ok, Object detail) {
    System.out.println((ok ? "ok   " : "FAIL ") + name + (ok ? "" : ": " + detail));
    if (!ok) failed++;
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = "java-interop-" + System.currentTimeMillis();
    String group = "java-interop-group";
    Properties common = new Properties();
    common.put("bootstrap.servers", bootstrap);

    try (Admin admin = Admin.create(common)) {
      admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1).configs(Map.of("retention.ms", "3600000"))))
          .all().get(30, TimeUnit.SECONDS);
      TopicDescription td = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
      check("admin: create and describe a topic (3 partitions)", td.partitions().size() == 3, td);
      Config cfg = admin.describeConfigs(List.of(new ConfigResource(ConfigResource.Type.TOPIC, topic)))
          .all().get(30, TimeUnit.SECONDS).values().iterator().next();
      check("admin: describe configs", "3600000".equals(cfg.get("retention.ms").value()), cfg.get("retention.ms"));
      check("admin: list topics", admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic), topic);

      Properties pp = new Properties();
      pp.putAll(common);
      pp.put("acks", "all");
      pp.put("enable.idempotence", "true");
      pp.put("compression.type", "zstd");
      List<RecordMetadata> metas = new ArrayList<>();
      try (Producer<String, String> p = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
        for (int i = 0; i < 100; i++) {
          metas.add(p.send(new ProducerRecord<>(topic, "key-" + (i % 10), "value-" + i)).get(30, TimeUnit.SECONDS));
        }
      }
      check("producer: 100 idempotent acks=all sends with offsets", metas.size() == 100 && metas.stream().allMatch(RecordMetadata::hasOffset), metas.size());

      Properties cp = new Properties();
      cp.putAll(common);
      cp.put("group.id", group);
      cp.put("auto.offset.reset", "earliest");
      cp.put("enable.auto.commit", "false");
      Set<String> seen = new HashSet<>();
      try (Consumer<String, String> c = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
        c.subscribe(List.of(topic));
        long deadline = System.currentTimeMillis() + 60000;
        while (seen.size() < 100 && System.currentTimeMillis() < deadline) {
          for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) seen.add(r.value());
        }
        c.commitSync();
      }
      check("consumer group: reads all 100 records and commits", seen.size() == 100, seen.size());

      try (Producer<String, String> p = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
        for (int i = 100; i < 110; i++) p.send(new ProducerRecord<>(topic, "key-" + (i % 10), "value-" + i)).get();
      }
      List<String> resumed = new ArrayList<>();
      try (Consumer<String, String> c = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
        c.subscribe(List.of(topic));
        long deadline = System.currentTimeMillis() + 30000;
        while (resumed.size() < 10 && System.currentTimeMillis() < deadline) {
          for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) resumed.add(r.value());
        }
        c.commitSync();
        Map<TopicPartition, OffsetAndMetadata> committed = c.committed(new HashSet<>(c.assignment()));
        long total = committed.values().stream().filter(Objects::nonNull).mapToLong(OffsetAndMetadata::offset).sum();
        check("consumer group: a new member resumes from the committed offsets", resumed.size() == 10 && resumed.stream().allMatch(v -> Integer.parseInt(v.substring(6)) >= 100), resumed);
        check("consumer: committed offsets cover all 110 records", total == 110, committed);
      }
      transactions(common, topic);
      Collection<GroupListing> groups = admin.listGroups().all().get(30, TimeUnit.SECONDS);
      check("admin: list groups", groups.stream().anyMatch(g -> g.groupId().equals(group)), groups);
      admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
      check("admin: delete the topic", !admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic), topic);
    }
    System.out.println(failed == 0 ? "java: all checks passed" : "java: " + failed + " checks failed");
    System.exit(failed == 0 ? 0 : 1);
  }

  /** Copies the 110 records of topic to topic-out in transactions, then aborts one more. */
  static void transactions(Properties common, String topic) throws Exception {
    String out = topic + "-out";
    Properties pp = new Properties();
    pp.putAll(common);
    pp.put("transactional.id", "java-interop-tx");
    Properties cp = new Properties();
    cp.putAll(common);
    cp.put("group.id", "java-interop-eos");
    cp.put("auto.offset.reset", "earliest");
    cp.put("enable.auto.commit", "false");
    cp.put("isolation.level", "read_committed");
    int copied = 0;
    try (KafkaProducer<String, String> p = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer());
        Consumer<String, String> c = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
      p.initTransactions();
      c.subscribe(List.of(topic));
      long deadline = System.currentTimeMillis() + 60000;
      while (copied < 110 && System.currentTimeMillis() < deadline) {
        ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(500));
        if (rs.isEmpty()) continue;
        p.beginTransaction();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (ConsumerRecord<String, String> r : rs) {
          p.send(new ProducerRecord<>(out, r.key(), "eos-" + r.value()));
          offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1, "java"));
          copied++;
        }
        p.sendOffsetsToTransaction(offsets, c.groupMetadata());
        p.commitTransaction();
      }
      p.beginTransaction();
      p.send(new ProducerRecord<>(out, "x", "aborted")).get(30, TimeUnit.SECONDS);
      p.abortTransaction();
    }
    check("transactions: 110 records copied with sendOffsetsToTransaction", copied == 110, copied);
    Map<TopicPartition, OffsetAndMetadata> committed;
    try (Consumer<String, String> c = new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
      Set<TopicPartition> tps = new HashSet<>();
      for (int i = 0; i < 3; i++) tps.add(new TopicPartition(topic, i));
      committed = c.committed(tps);
    }
    long total = committed.values().stream().filter(Objects::nonNull).mapToLong(OffsetAndMetadata::offset).sum();
    check("transactions: the offsets committed in the transactions cover the input, with metadata",
        total == 110 && committed.values().stream().allMatch(o -> o != null && "java".equals(o.metadata())), committed);
    for (String level : List.of("read_committed", "read_uncommitted")) {
      Properties rp = new Properties();
      rp.putAll(common);
      rp.put("isolation.level", level);
      List<String> got = new ArrayList<>();
      try (Consumer<String, String> c = new KafkaConsumer<>(rp, new StringDeserializer(), new StringDeserializer())) {
        List<TopicPartition> tps = new ArrayList<>();
        for (var pi : c.partitionsFor(out)) tps.add(new TopicPartition(out, pi.partition()));
        c.assign(tps);
        c.seekToBeginning(tps);
        long deadline = System.currentTimeMillis() + 20000;
        int idle = 0;
        while (System.currentTimeMillis() < deadline && (got.size() < 110 || idle < 3)) {
          ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(500));
          idle = rs.isEmpty() ? idle + 1 : 0;
          for (ConsumerRecord<String, String> r : rs) got.add(r.value());
        }
      }
      long eos = got.stream().filter(v -> v.startsWith("eos-")).distinct().count();
      boolean aborted = got.contains("aborted");
      if (level.equals("read_committed")) {
        check("transactions: read_committed sees each copied record once and not the aborted one", got.size() == 110 && eos == 110 && !aborted, got.size() + " records, aborted seen: " + aborted);
      } else {
        check("transactions: read_uncommitted also sees the aborted record", got.size() == 111 && aborted, got.size());
      }
    }
  }
}
