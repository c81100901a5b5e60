import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.TreeMap;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;

/**
 * Runs Neo4j Community embedded, with its Bolt connector, as a process of its own.
 *
 * <p>Started by kb.localdb: {@code java -cp ... KbNeo4j HOME CONF PASSWORD_FILE}. The password
 * comes from a file so that it never shows in the process list. kb waits for the ready line
 * on stdout, then for Bolt to answer. SIGTERM runs the shutdown hook, which closes the
 * databases cleanly.
 *
 * <p>{@code KbNeo4j count HOME CONF DATABASE OUT_JSON} instead opens a store that no server
 * uses (a loaded backup), with Bolt off, writes its nodes per label and relationships per
 * type to OUT_JSON and exits: kb checks a backup against the store it makes.
 */
public final class KbNeo4j {
    static final String READY = "KB-NEO4J-READY";

    private KbNeo4j() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 5 && args[0].equals("count")) {
            try {
                count(Path.of(args[1]), Path.of(args[2]), args[3], Path.of(args[4]));
            } catch (Throwable e) {
                e.printStackTrace();
                System.err.println("KB-NEO4J-FAILED: " + e);
                System.exit(1);
            }
            System.exit(0);
        }
        if (args.length != 3) {
            System.err.println("usage: KbNeo4j HOME CONF PASSWORD_FILE");
            System.err.println("       KbNeo4j count HOME CONF DATABASE OUT_JSON");
            System.exit(2);
        }
        try {
            start(Path.of(args[0]), Path.of(args[1]), Path.of(args[2]));
        } catch (Throwable e) {
            // Neo4j's own threads would keep a half-started JVM alive; exit so kb sees it.
            e.printStackTrace();
            System.err.println("KB-NEO4J-FAILED: " + e);
            System.exit(1);
        }
        System.out.println(READY);
        System.out.flush();
        Thread.currentThread().join();
    }

    private static void start(Path home, Path conf, Path passwordFile) throws Exception {
        String password = Files.readString(passwordFile).strip();
        DatabaseManagementService dbms =
                new DatabaseManagementServiceBuilder(home).loadPropertiesFromFile(conf).build();
        Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown, "kb-neo4j-shutdown"));
        try {
            dbms.database("system").executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $p CHANGE NOT REQUIRED", Map.of("p", password));
        } catch (RuntimeException e) {
            // Every start after the first sets the same password again, which Neo4j refuses.
            String message = String.valueOf(e.getMessage()).toLowerCase();
            if (!message.contains("cannot be the same")) {
                throw e;
            }
        }
    }

    private static void count(Path home, Path conf, String database, Path out) throws Exception {
        DatabaseManagementService dbms =
                new DatabaseManagementServiceBuilder(home)
                        .loadPropertiesFromFile(conf)
                        .setConfig(BoltConnector.enabled, false)
                        .build();
        try {
            GraphDatabaseService db = dbms.database(database);
            Map<String, Long> nodes = new TreeMap<>();
            Map<String, Long> rels = new TreeMap<>();
            long nodeTotal;
            long relTotal;
            Object schema;
            try (Transaction tx = db.beginTx()) {
                tally(tx, "MATCH (n) UNWIND labels(n) AS k RETURN k, count(*) AS c", nodes);
                tally(tx, "MATCH ()-[r]->() RETURN type(r) AS k, count(*) AS c", rels);
                nodeTotal = single(tx, "MATCH (n) RETURN count(n) AS c");
                relTotal = single(tx, "MATCH ()-[r]->() RETURN count(r) AS c");
                try (Result r = tx.execute(
                        "OPTIONAL MATCH (m:KbMeta {id: 'schema'}) RETURN m.version AS c")) {
                    schema = r.next().get("c");
                }
                tx.commit();
            }
            StringBuilder json = new StringBuilder("{\"nodes\": ");
            object(json, nodes);
            json.append(", \"relationships\": ");
            object(json, rels);
            json.append(", \"node_total\": ").append(nodeTotal);
            json.append(", \"relationship_total\": ").append(relTotal);
            json.append(", \"schema_version\": ").append(schema == null ? "null" : schema);
            json.append("}\n");
            Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
            Files.writeString(tmp, json, StandardCharsets.UTF_8);
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            dbms.shutdown();
        }
    }

    private static void tally(Transaction tx, String query, Map<String, Long> into) {
        try (Result r = tx.execute(query)) {
            while (r.hasNext()) {
                Map<String, Object> row = r.next();
                into.put((String) row.get("k"), ((Number) row.get("c")).longValue());
            }
        }
    }

    private static long single(Transaction tx, String query) {
        try (Result r = tx.execute(query)) {
            return ((Number) r.next().get("c")).longValue();
        }
    }

    private static void object(StringBuilder json, Map<String, Long> map) {
        json.append('{');
        String sep = "";
        for (Map.Entry<String, Long> e : map.entrySet()) {
            json.append(sep).append(quoted(e.getKey())).append(": ").append(e.getValue());
            sep = ", ";
        }
        json.append('}');
    }

    private static String quoted(String text) {
        StringBuilder s = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                s.append('\\').append(c);
            } else if (c < 0x20) {
                s.append(String.format("\\u%04x", (int) c));
            } else {
                s.append(c);
            }
        }
        return s.append('"').toString();
    }
}
