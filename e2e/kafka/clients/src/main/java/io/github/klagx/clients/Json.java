package io.github.klagx.clients;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/** One JSON object per line on stdout, flushed: the machine-readable output of the clients. */
final class Json {
    private final Map<String, Object> fields = new LinkedHashMap<>();

    static Json event(String name) {
        Json j = new Json();
        j.fields.put("event", name);
        j.fields.put("time_ms", System.currentTimeMillis());
        return j;
    }

    Json put(String key, Object value) {
        fields.put(key, value);
        return this;
    }

    void print() {
        StringBuilder sb = new StringBuilder();
        write(sb, fields);
        synchronized (System.out) {
            System.out.println(sb);
            System.out.flush();
        }
    }

    private static void write(StringBuilder sb, Object v) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Number || v instanceof Boolean) {
            sb.append(v);
        } else if (v instanceof Map<?, ?> m) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) sb.append(',');
                first = false;
                write(sb, String.valueOf(e.getKey()));
                sb.append(':');
                write(sb, e.getValue());
            }
            sb.append('}');
        } else if (v instanceof Collection<?> c) {
            sb.append('[');
            boolean first = true;
            for (Object o : c) {
                if (!first) sb.append(',');
                first = false;
                write(sb, o);
            }
            sb.append(']');
        } else {
            String s = v.toString();
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char ch = s.charAt(i);
                switch (ch) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> {
                        if (ch < 0x20) sb.append(String.format("\\u%04x", (int) ch));
                        else sb.append(ch);
                    }
                }
            }
            sb.append('"');
        }
    }
}
