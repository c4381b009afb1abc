package org.lstmk.bench.demo;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.text.DecimalFormat;
import java.nio.file.Path;
import java.util.List;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.SeriesRenderingOrder;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/** The demo's PNG charts (JFreeChart, headless). */
public final class Charts {
    private static final int WIDTH = 1000, HEIGHT = 560;

    private Charts() {}

    static {
        System.setProperty("java.awt.headless", "true");
    }

    /**
     * The training loss (mean over windows of {@code smooth} steps) and the test MSE on a log scale, with the
     * baseline's and the target's MSE as horizontal lines.
     */
    public static void lossCurve(Path file, String title, List<Double> trainLoss, List<Trainer.Eval> evals,
                                 double baseline, String baselineName, double target) throws IOException {
        XYSeries train = new XYSeries("training loss (batch MSE, mean of " + smoothWindow(trainLoss.size()) + " steps)");
        int win = smoothWindow(trainLoss.size());
        for (int from = 0; from < trainLoss.size(); from += win) {
            int to = Math.min(trainLoss.size(), from + win);
            double s = 0;
            for (int i = from; i < to; i++) s += trainLoss.get(i);
            double mean = s / (to - from);
            if (mean > 0 && Double.isFinite(mean)) train.add((from + to) / 2.0, mean);
        }
        XYSeries test = new XYSeries("test MSE");
        for (Trainer.Eval e : evals) if (e.mse() > 0 && Double.isFinite(e.mse())) test.add(e.step(), e.mse());
        XYSeriesCollection data = new XYSeriesCollection();
        data.addSeries(train);
        data.addSeries(test);
        double lo = Math.min(target, baseline), hi = Math.max(target, baseline);
        for (XYSeries xy : List.of(train, test)) {
            if (xy.isEmpty()) continue;
            lo = Math.min(lo, xy.getMinY());
            hi = Math.max(hi, xy.getMaxY());
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, "step", "MSE", data, PlotOrientation.VERTICAL,
                true, false, false);
        XYPlot plot = chart.getXYPlot();
        LogAxis y = new LogAxis("MSE (log scale)");
        y.setSmallestValue(1e-6);
        y.setTickUnit(new NumberTickUnit(1.0));            // one tick per decade, labelled as decimals
        y.setMinorTickCount(9);
        y.setMinorTickMarksVisible(true);
        y.setNumberFormatOverride(new DecimalFormat("0.######"));
        plot.setRangeAxis(y);
        y.setRange(lo / 1.5, hi * 1.5);   // the target's and the baseline's lines always in view
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, false);
        r.setSeriesPaint(0, new Color(0x1f77b4));
        r.setSeriesPaint(1, new Color(0xd62728));
        r.setSeriesShapesVisible(1, true);
        r.setSeriesStroke(0, new BasicStroke(1.5f));
        r.setSeriesStroke(1, new BasicStroke(2f));
        plot.setRenderer(r);
        plot.addRangeMarker(marker(baseline, "baseline: " + baselineName + String.format(java.util.Locale.ROOT,
                " = %.4g", baseline), Color.GRAY));
        plot.addRangeMarker(marker(target, "target " + String.format(java.util.Locale.ROOT, "%.3g", target),
                new Color(0x2ca02c)));
        style(plot);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
    }

    /** Series of equal length against the step index, e.g. the truth and a prediction. */
    public static void series(Path file, String title, String xLabel, String yLabel, List<String> names,
                              List<float[]> values) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (int s = 0; s < names.size(); s++) {
            XYSeries xy = new XYSeries(names.get(s));
            float[] v = values.get(s);
            for (int t = 0; t < v.length; t++) if (Float.isFinite(v[t])) xy.add(t, v[t]);
            data.addSeries(xy);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, xLabel, yLabel, data, PlotOrientation.VERTICAL,
                true, false, false);
        XYPlot plot = chart.getXYPlot();
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, false);
        Color[] colors = {new Color(0xb0b0b0), new Color(0xd62728), new Color(0x1f77b4), new Color(0x2ca02c)};
        for (int s = 0; s < names.size(); s++) {
            r.setSeriesPaint(s, colors[s % colors.length]);
            r.setSeriesStroke(s, new BasicStroke(s == 0 ? 6f : 1.8f));
        }
        plot.setRenderer(r);
        style(plot);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, WIDTH, HEIGHT);
    }

    private static int smoothWindow(int n) {
        return Math.max(1, n / 200);
    }

    private static ValueMarker marker(double value, String label, Color color) {
        ValueMarker m = new ValueMarker(value, color, new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER,
                10f, new float[] {6f, 4f}, 0f));
        m.setLabel(label);
        m.setLabelPaint(color.darker());
        m.setLabelAnchor(RectangleAnchor.TOP_RIGHT);
        m.setLabelTextAnchor(TextAnchor.BOTTOM_RIGHT);
        return m;
    }

    private static void style(XYPlot plot) {
        plot.setSeriesRenderingOrder(SeriesRenderingOrder.FORWARD);   // the first series underneath, not on top
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(0xdddddd));
        plot.setRangeGridlinePaint(new Color(0xdddddd));
    }
}
