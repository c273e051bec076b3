package org.elasticsearch.plugins;

import org.elasticsearch.Version;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.jdk.ModuleQualifiedExportsService;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * A {@link PluginsService} that loads plugins from classes already on the JVM classpath instead of
 * from {@code modules/} and {@code plugins/} directories.
 *
 * <p>It lives in {@code org.elasticsearch.plugins} because {@code PluginsService.LoadedPlugin},
 * {@code PluginsService.loadPlugin} and {@code PluginsService.loadExtensions} are package-private.
 * This is test glue for logsense's embedded Elasticsearch node; it is not a production component.
 */
public class ClasspathPluginsService extends PluginsService {

    private final List<LoadedPlugin> classpathPlugins;

    /**
     * @param settings      the node settings
     * @param configPath    the node's config directory
     * @param pluginClasses plugin classes to instantiate (each needs a public constructor taking
     *                      {@code ()}, {@code (Settings)} or {@code (Settings, Path)})
     */
    public ClasspathPluginsService(Settings settings, Path configPath, Collection<Class<? extends Plugin>> pluginClasses) {
        // null directories: nothing is loaded from the filesystem
        super(settings, configPath, null, null);
        List<LoadedPlugin> loaded = new ArrayList<>();
        for (Class<? extends Plugin> pluginClass : pluginClasses) {
            PluginDescriptor descriptor = new PluginDescriptor(
                pluginClass.getName(),
                "classpath plugin " + pluginClass.getName(),
                "NA",
                Version.CURRENT.toString(),
                "17",
                pluginClass.getName(),
                null,
                List.of(),
                false,
                false,
                false,
                false
            );
            Plugin instance = loadPlugin(pluginClass, settings, configPath);
            loaded.add(new LoadedPlugin(descriptor, instance));
        }
        loadExtensions(loaded);
        this.classpathPlugins = List.copyOf(loaded);
    }

    /**
     * The server jar is on the classpath (unnamed module, no module descriptor), so there are no
     * qualified exports to wire up; the default implementation would fail on the missing descriptor.
     */
    @Override
    protected void addServerExportsService(Map<String, List<ModuleQualifiedExportsService>> qualifiedExports) {}

    @Override
    protected List<LoadedPlugin> plugins() {
        return classpathPlugins;
    }
}
