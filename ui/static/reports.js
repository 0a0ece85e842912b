// Draws the charts of report pages and dashboards with ECharts, from the JSON each page embeds
// beside a `.report-chart` element. Clicking a point opens the list of the rows behind it.
(function () {
  "use strict";

  function wholeNumbers(spec) {
    return spec.series.every(function (series) {
      return series.data.every(function (value) { return value === null || Number.isInteger(Number(value)); });
    });
  }

  function option(spec) {
    var legend = { type: "scroll", bottom: 0 };
    if (spec.type === "pie" || spec.type === "funnel") {
      var first = spec.series[0] || { data: [], links: [], name: "" };
      return {
        tooltip: { trigger: "item" },
        legend: legend,
        series: [{
          type: spec.type,
          name: first.name,
          radius: spec.type === "pie" ? ["0%", "65%"] : undefined,
          // The funnel keeps the report's own order (its `sort`), as the table shows it.
          sort: spec.type === "funnel" ? "none" : undefined,
          data: spec.categories.map(function (name, index) {
            return { name: name, value: first.data[index], link: first.links[index] };
          })
        }]
      };
    }
    return {
      tooltip: { trigger: "axis" },
      legend: legend,
      grid: { left: 8, right: 16, top: 16, bottom: 40, containLabel: true },
      // Every category keeps its label: slanted when there are many, cut with an ellipsis when long.
      xAxis: {
        type: "category",
        data: spec.categories,
        axisLabel: { interval: 0, rotate: spec.categories.length > 6 ? 30 : 0, width: 96, overflow: "truncate" }
      },
      // Counts and other whole numbers get whole ticks.
      yAxis: { type: "value", minInterval: wholeNumbers(spec) ? 1 : 0 },
      series: spec.series.map(function (series) {
        return {
          type: spec.type,
          name: series.name,
          stack: spec.stacked ? "total" : undefined,
          data: series.data.map(function (value, index) { return { value: value, link: series.links[index] }; })
        };
      })
    };
  }

  function draw(element) {
    if (element.dataset.drawn || typeof window.echarts === "undefined") {
      return;
    }
    var source = document.getElementById(element.dataset.chart);
    if (!source) {
      return;
    }
    var chart = window.echarts.init(element);
    chart.setOption(option(JSON.parse(source.textContent)));
    chart.on("click", function (params) {
      if (params.data && params.data.link) {
        window.location.href = params.data.link;
      }
    });
    window.addEventListener("resize", function () { chart.resize(); });
    element.dataset.drawn = "1";
  }

  function drawAll() {
    document.querySelectorAll(".report-chart").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
})();
