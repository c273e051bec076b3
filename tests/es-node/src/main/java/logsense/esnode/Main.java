package logsense.esnode;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.appender.ConsoleAppender;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilder;
import org.apache.logging.log4j.core.config.builder.api.ConfigurationBuilderFactory;
import org.apache.logging.log4j.core.config.builder.impl.BuiltConfiguration;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.EmbeddedNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Starts one embedded single-node Elasticsearch cluster on 127.0.0.1 for logsense's tests.
 *
 * <pre>
 * java -Xms512m -Xmx1g -cp CLASSPATH logsense.esnode.Main HTTP_PORT HOME_DIR [setting=value ...]
 * </pre>
 *
 * HTTP_PORT may be 0 (an ephemeral port is chosen). Once the node is up, one line
 * {@code ES_NODE_STARTED http://127.0.0.1:PORT} is printed to stdout. SIGTERM/SIGINT close the node.
 * With {@code -Dlogsense.esnode.exitOnStdinEof=true} the node also stops when its stdin is closed,
 * so it cannot outlive the process that started it. Logs go to stdout.
 */
public final class Main {

    /** Marker printed (with the URL) once the node has started. */
    public static final String STARTED_MARKER = "ES_NODE_STARTED";

    /** Set when the parent went away (stdin EOF): nobody else will remove the home dir then. */
    private static volatile boolean deleteHomeOnExit = false;

    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: Main HTTP_PORT HOME_DIR [setting=value ...]");
            System.exit(2);
        }
        int httpPort = Integer.parseInt(args[0]);
        Path home = Path.of(args[1]).toAbsolutePath();

        setDefaultProperty("log4j.shutdownHookEnabled", "false"); // our hook closes the node first
        setDefaultProperty("log4j2.disable.jmx", "true");
        setDefaultProperty("io.netty.noUnsafe", "true");
        setDefaultProperty("io.netty.noKeySetOptimization", "true");
        setDefaultProperty("io.netty.recycler.maxCapacityPerThread", "0");
        setDefaultProperty("io.netty.allocator.numDirectArenas", "0");
        setDefaultProperty("es.path.home", home.toString());
        configureLogging();

        Files.createDirectories(home.resolve("config"));
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));

        Settings.Builder builder = Settings.builder()
            .put("cluster.name", "logsense-test")
            .put("node.name", "logsense-test-node")
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", Integer.toString(httpPort))
            .put("transport.port", "0")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("node.processors", 2)
            .put("action.auto_create_index", true);
        for (int i = 2; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected setting=value, got [" + args[i] + "]");
            }
            builder.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        Settings settings = builder.build();

        Environment environment = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "logsense-test-node");
        long t0 = System.nanoTime();
        Node node;
        CountDownLatch closed = new CountDownLatch(1);
        try {
            node = new EmbeddedNode(environment, List.of(Netty4Plugin.class));
            Node started = node;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                closeNode(started, closed);
                if (deleteHomeOnExit) {
                    deleteTree(home);
                }
            }, "es-node-shutdown"));
            node.start();
        } catch (Throwable t) {
            // the node's thread pools are non-daemon: exit explicitly so a failed start never hangs
            System.out.println("ES_NODE_FAILED " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            Runtime.getRuntime().halt(1);
            return;
        }

        int boundPort = node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress().getPort();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        System.out.println(STARTED_MARKER + " http://127.0.0.1:" + boundPort + " (in " + ms + " ms)");
        System.out.flush();

        if (Boolean.getBoolean("logsense.esnode.exitOnStdinEof")) {
            Thread watchdog = new Thread(Main::exitOnStdinEof, "es-node-stdin-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
        }
        closed.await();
    }

    private static void setDefaultProperty(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** Plain-text log4j2 configuration to stdout; the ES logging facade is bound to log4j. */
    private static void configureLogging() {
        ConfigurationBuilder<BuiltConfiguration> b = ConfigurationBuilderFactory.newConfigurationBuilder();
        b.setStatusLevel(Level.ERROR);
        b.setConfigurationName("logsense-es-node");
        b.add(
            b.newAppender("stdout", "Console")
                .addAttribute("target", ConsoleAppender.Target.SYSTEM_OUT)
                .add(b.newLayout("PatternLayout").addAttribute("pattern", "[%d{ISO8601}][%-5p][%c{1.}] %m%n"))
        );
        b.add(b.newRootLogger(Level.INFO).add(b.newAppenderRef("stdout")));
        // chatty and irrelevant for tests
        b.add(b.newLogger("org.elasticsearch.deprecation", Level.ERROR));
        Configurator.initialize(b.build());
        LogConfigurator.configureESLogging();
    }

    private static void closeNode(Node node, CountDownLatch closed) {
        try {
            System.out.println("ES_NODE_STOPPING");
            node.close();
            if (node.awaitClose(20, TimeUnit.SECONDS) == false) {
                System.out.println("ES_NODE_STOP_TIMEOUT node did not close within 20s");
            }
            System.out.println("ES_NODE_STOPPED");
        } catch (IOException | InterruptedException | RuntimeException e) {
            System.out.println("ES_NODE_STOP_FAILED " + e);
            e.printStackTrace(System.out);
        } finally {
            System.out.flush();
            closed.countDown();
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            System.out.println("ES_NODE_CLEANUP_FAILED " + e);
        }
    }

    private static void exitOnStdinEof() {
        try (InputStream in = System.in) {
            byte[] buf = new byte[256];
            while (in.read(buf) >= 0) {
                // ignore input; we only wait for EOF
            }
        } catch (IOException e) {
            // treat a broken stdin like EOF
        }
        System.out.println("ES_NODE_STDIN_CLOSED parent went away, shutting down and removing the home dir");
        deleteHomeOnExit = true;
        System.exit(0); // runs the shutdown hook
    }
}
