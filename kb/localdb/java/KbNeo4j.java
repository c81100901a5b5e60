import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

/**
 * Runs Neo4j Community embedded, with its Bolt connector, as a process of its own.
 *
 * <p>Started by kb.localdb: {@code java -cp ... KbNeo4j HOME CONF PASSWORD_FILE}. The password
 * comes from a file so that it never shows in the process list. kb waits for the ready line
 * on stdout, then for Bolt to answer. SIGTERM runs the shutdown hook, which closes the
 * databases cleanly.
 */
public final class KbNeo4j {
    static final String READY = "KB-NEO4J-READY";

    private KbNeo4j() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: KbNeo4j HOME CONF PASSWORD_FILE");
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
}
