package io.github.klagx.clients;

import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

/** --key value arguments; --prop k=v (repeatable) passes a client property through. */
final class Args {
    final Map<String, String> values = new HashMap<>();
    final Properties props = new Properties();

    Args(String[] argv) {
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("want --key value pairs, got " + a);
            }
            String v = argv[++i];
            if (a.equals("--prop")) {
                int eq = v.indexOf('=');
                if (eq <= 0) throw new IllegalArgumentException("--prop wants key=value, got " + v);
                props.setProperty(v.substring(0, eq), v.substring(eq + 1));
            } else {
                values.put(a.substring(2), v);
            }
        }
    }

    String get(String key, String def) {
        return values.getOrDefault(key, def);
    }

    String require(String key) {
        String v = values.get(key);
        if (v == null) throw new IllegalArgumentException("--" + key + " is required");
        return v;
    }
}
