package org.lstmk.bench.peers;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * Turns a {@link PeerBenchmark} run (JMH JSON results, {@code -rf json}, and the run's log) into one Markdown table
 * ({@code peers.md}: GFLOP/s and ms per shape and peer, B = 1 latency percentiles, the peers that were skipped and
 * why) and two PNG charts ({@code peers-gflops.png}, {@code peers-latency.png}).
 *
 * <p>Usage: {@code PeerReport OUT_DIR LOG RESULT.json...}
 */
public final class PeerReport {
    record Row(String method, String peer, String shape, String mode, int threads, double score, String unit,
               Map<String, Double> pct) {}

    private PeerReport() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: PeerReport OUT_DIR LOG RESULT.json...");
            System.exit(2);
        }
        System.setProperty("java.awt.headless", "true");
        Path out = Path.of(args[0]);
        Files.createDirectories(out);
        List<Row> rows = new ArrayList<>();
        for (int i = 2; i < args.length; i++) rows.addAll(read(Path.of(args[i])));
        // peers in report order (ours first), shapes in the order of the runs
        rows.sort(java.util.Comparator.comparingInt(r -> Peers.ALL.indexOf(r.peer()) < 0 ? 99 : Peers.ALL.indexOf(r.peer())));
        Map<String, String> skipped = skipped(Path.of(args[1]));
        StringBuilder md = new StringBuilder();
        md.append(table(rows, skipped));
        Files.writeString(out.resolve("peers.md"), md);
        charts(rows, out);
        System.out.print(md);
        System.out.println("wrote " + out.resolve("peers.md") + ", peers-gflops.png, peers-latency.png");
    }

    static List<Row> read(Path json) throws IOException {
        List<Row> rows = new ArrayList<>();
        for (JsonElement e : JsonParser.parseString(Files.readString(json)).getAsJsonArray()) {
            JsonObject o = e.getAsJsonObject(), p = o.getAsJsonObject("params"), m = o.getAsJsonObject("primaryMetric");
            String bench = o.get("benchmark").getAsString();
            Map<String, Double> pct = new LinkedHashMap<>();
            if (m.has("scorePercentiles"))
                for (var q : m.getAsJsonObject("scorePercentiles").entrySet()) pct.put(q.getKey(), q.getValue().getAsDouble());
            rows.add(new Row(bench.substring(bench.lastIndexOf('.') + 1), p.get("peer").getAsString(),
                    p.get("shape").getAsString(), p.has("mode") ? p.get("mode").getAsString() : "inference",
                    p.has("threads") ? p.get("threads").getAsInt() : 0,
                    m.get("score").getAsDouble(), m.get("scoreUnit").getAsString(), pct));
        }
        return rows;
    }

    /** "peer X skipped: why" and "X disagrees with ..." lines of the log, by peer. */
    static Map<String, String> skipped(Path log) throws IOException {
        Map<String, String> r = new LinkedHashMap<>();
        if (!Files.exists(log)) return r;
        Pattern skip = Pattern.compile("peer (\\S+) skipped: (.*)"), bad = Pattern.compile("(\\S+) disagrees with (.*)");
        for (String line : Files.readAllLines(log)) {
            Matcher a = skip.matcher(line), b = bad.matcher(line);
            if (a.find()) r.putIfAbsent(a.group(1) + " (" + (a.group(2).equals("inference only") ? "training" : "all") + ")", a.group(2));
            else if (b.find()) r.putIfAbsent(b.group(1), "output mismatch: " + b.group(2));
        }
        return r;
    }

    static double flops(String shape, String method) {
        String[] s = shape.split("x");
        double h = Double.parseDouble(s[0]), b = Double.parseDouble(s[1]), t = Double.parseDouble(s[2]);
        double f = 2.0 * t * b * 4 * h * (h + h);
        return method.equals("training") ? 3 * f : f;
    }

    static double ms(Row r) {
        return switch (r.unit()) {
            case "ms/op" -> r.score();
            case "us/op" -> r.score() / 1e3;
            case "s/op" -> r.score() * 1e3;
            default -> throw new IllegalArgumentException("unit " + r.unit());
        };
    }

    static String table(List<Row> rows, Map<String, String> skipped) {
        Set<String> peers = new LinkedHashSet<>();
        for (String p : Peers.ALL) if (rows.stream().anyMatch(r -> r.peer().equals(p))) peers.add(p);
        rows.forEach(r -> peers.add(r.peer()));
        StringBuilder sb = new StringBuilder();
        sb.append("Single-layer LSTM, I = H, time-major, zero initial state, f32; threads per peer: ")
                .append(rows.stream().map(r -> Integer.toString(r.threads())).distinct().toList())
                .append(". FLOPs: 2·T·B·4H·(I+H) per inference call, 3× that per training call (forward + backward).\n\n");
        sb.append("### Throughput: GFLOP/s (ms per call), I = H, avgt\n\n| shape (H×B×T) | call |");
        for (String p : peers) sb.append(' ').append(p).append(" |");
        sb.append("\n|---|---|");
        peers.forEach(p -> sb.append("---|"));
        sb.append('\n');
        Set<String> keys = new LinkedHashSet<>();
        for (Row r : rows) if (!r.method().equals("latency")) keys.add(r.shape() + "|" + r.method());
        for (String k : keys) {
            String[] sk = k.split("\\|");
            sb.append("| ").append(sk[0].replace('x', '×')).append(" | ").append(sk[1]).append(" |");
            for (String p : peers) {
                Row r = find(rows, p, sk[0], sk[1]);
                sb.append(r == null ? " — |" : String.format(" %.1f (%.3f) |", flops(sk[0], sk[1]) / (ms(r) * 1e-3) * 1e-9, ms(r)));
            }
            sb.append('\n');
        }
        List<Row> lat = rows.stream().filter(r -> r.method().equals("latency")).toList();
        if (!lat.isEmpty()) {
            sb.append("\n### Latency at B = 1: ms per call, p50 / p99 (sample mode)\n\n| shape (H×B×T) |");
            for (String p : peers) sb.append(' ').append(p).append(" |");
            sb.append("\n|---|");
            peers.forEach(p -> sb.append("---|"));
            sb.append('\n');
            for (String s : lat.stream().map(Row::shape).distinct().toList()) {
                sb.append("| ").append(s.replace('x', '×')).append(" |");
                for (String p : peers) {
                    Row r = find(rows, p, s, "latency");
                    sb.append(r == null ? " — |" : String.format(" %.3f / %.3f |", pct(r, "50.0"), pct(r, "99.0")));
                }
                sb.append('\n');
            }
        }
        if (!skipped.isEmpty()) {
            sb.append("\n### Not measured\n\n");
            skipped.forEach((p, why) -> sb.append("- ").append(p).append(": ").append(why).append('\n'));
        }
        sb.append("\n— : not run for that shape (skipped, inference only, or not in this run).\n");
        return sb.toString();
    }

    static double pct(Row r, String q) {
        Double v = r.pct().get(q);
        double scale = ms(r) / r.score();
        return v == null ? Double.NaN : v * scale;
    }

    static Row find(List<Row> rows, String peer, String shape, String method) {
        for (Row r : rows) if (r.peer().equals(peer) && r.shape().equals(shape) && r.method().equals(method)) return r;
        return null;
    }

    static void charts(List<Row> rows, Path out) throws IOException {
        DefaultCategoryDataset g = new DefaultCategoryDataset();
        for (Row r : rows)
            if (!r.method().equals("latency"))
                g.addValue(flops(r.shape(), r.method()) / (ms(r) * 1e-3) * 1e-9, r.peer(),
                        r.shape().replace('x', '×') + (r.method().equals("training") ? " train" : ""));
        JFreeChart c = ChartFactory.createBarChart("LSTM on the JVM: GFLOP/s per shape (H×B×T, I = H)", "shape",
                "GFLOP/s", g, PlotOrientation.VERTICAL, true, false, false);
        ChartUtils.saveChartAsPNG(out.resolve("peers-gflops.png").toFile(), c, 1100, 560);
        DefaultCategoryDataset l = new DefaultCategoryDataset();
        for (Row r : rows)
            if (r.method().equals("latency")) {
                String s = r.shape().replace('x', '×');
                l.addValue(pct(r, "50.0"), r.peer() + " p50", s);
                l.addValue(pct(r, "99.0"), r.peer() + " p99", s);
            }
        JFreeChart d = ChartFactory.createBarChart("LSTM on the JVM: latency at B = 1 (ms per call, p50 and p99)",
                "shape", "ms", l, PlotOrientation.VERTICAL, true, false, false);
        // p99 can be 10× p50: a log axis keeps both readable
        org.jfree.chart.axis.LogAxis log = new org.jfree.chart.axis.LogAxis("ms per call (log scale)");
        log.setSmallestValue(1e-3);
        log.setBase(10);
        log.setNumberFormatOverride(new java.text.DecimalFormat("0.###"));
        d.getCategoryPlot().setRangeAxis(log);
        ((org.jfree.chart.renderer.category.BarRenderer) d.getCategoryPlot().getRenderer()).setBase(1e-3);
        ChartUtils.saveChartAsPNG(out.resolve("peers-latency.png").toFile(), d, 1100, 560);
    }
}
