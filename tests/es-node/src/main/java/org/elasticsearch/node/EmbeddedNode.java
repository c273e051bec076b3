package org.elasticsearch.node;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsService;

import java.util.Collection;
import java.util.List;

/**
 * An Elasticsearch {@link Node} whose plugins come from the classpath.
 *
 * <p>It lives in {@code org.elasticsearch.node} because the {@code Node(NodeConstruction)}
 * constructor, {@code NodeConstruction.prepareConstruction} and {@code NodeServiceProvider} are
 * package-private. Bootstrap checks, the security manager/entitlements and the root check live in
 * {@code org.elasticsearch.bootstrap}, which is not used here. Test glue only.
 */
public class EmbeddedNode extends Node {

    /**
     * @param environment   the prepared node environment (see {@code InternalSettingsPreparer})
     * @param pluginClasses plugin classes to load from the classpath (e.g. {@code Netty4Plugin})
     */
    public EmbeddedNode(Environment environment, Collection<Class<? extends Plugin>> pluginClasses) {
        super(NodeConstruction.prepareConstruction(environment, new ClasspathServiceProvider(List.copyOf(pluginClasses)), true));
    }

    private static final class ClasspathServiceProvider extends NodeServiceProvider {
        private final List<Class<? extends Plugin>> pluginClasses;

        ClasspathServiceProvider(List<Class<? extends Plugin>> pluginClasses) {
            this.pluginClasses = pluginClasses;
        }

        @Override
        PluginsService newPluginService(Environment environment, Settings settings) {
            return new ClasspathPluginsService(settings, environment.configFile(), pluginClasses);
        }
    }
}
