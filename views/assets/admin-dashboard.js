// The campaign dashboard: draws the chart from stats.json and refreshes the figures every 15 s.
// The page shows every figure without this script; it only keeps them current.
(function () {
  'use strict';
  var root = document.querySelector('[data-stats-url]');
  if (!root) return;
  var url = root.getAttribute('data-stats-url');
  var REFRESH_MS = 15000;
  var chart = null;
  var moneyFormat = null;
  var wholeMoneyFormat = null; // as the server writes whole amounts: "$50,000", not "$50,000.00"
  var digits = 2;

  function at(stats, path) {
    return path.split('.').reduce(function (value, key) { return value == null ? null : value[key]; }, stats);
  }

  function money(minor) {
    if (minor == null) return '—';
    var scale = Math.pow(10, digits);
    return (minor % scale === 0 ? wholeMoneyFormat : moneyFormat).format(minor / scale);
  }

  var DATE = new Intl.DateTimeFormat('en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', hourCycle: 'h23' });
  var KINDS = { once: 'One-off', monthly: 'Monthly', annual: 'Annual' };

  function giftKind(gift) {
    var kind = KINDS[gift.frequency || 'once'] + (gift.renewal ? ' (renewal)' : '');
    return gift.source === 'offline' ? kind + ', offline' : kind;
  }

  function cell(text, className) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderLatest(stats) {
    var body = root.querySelector('[data-field="latestGifts"]');
    var rows = stats.latestGifts.map(function (gift) {
      var tr = document.createElement('tr');
      var note = gift.net === gift.amount ? null : gift.net === 0 && gift.source === 'offline' ? 'voided' : money(gift.net) + ' after refunds';
      var amount = money(gift.amount) + (note ? ' (' + note + ')' : '');
      tr.append(cell(gift.name), cell(amount, 'num'), cell(giftKind(gift)), cell(DATE.format(new Date(gift.occurredAt)) + ' UTC'));
      return tr;
    });
    if (rows.length) body.replaceChildren.apply(body, rows);
  }

  function renderFigures(stats) {
    root.querySelectorAll('[data-money]').forEach(function (el) {
      var text = money(at(stats, el.getAttribute('data-money')));
      if (el.textContent !== text) el.textContent = text; // the raised figure is aria-live: announce changes only
    });
    root.querySelectorAll('[data-count]').forEach(function (el) {
      var value = at(stats, el.getAttribute('data-count'));
      el.textContent = value == null ? '—' : String(value);
    });
    root.querySelector('[data-field="percent"]').textContent = String(stats.percent);
    var bar = root.querySelector('[data-field="bar"]');
    bar.style.width = Math.min(100, stats.percent) + '%';
    bar.parentElement.setAttribute('aria-valuenow', String(Math.min(100, stats.percent)));
    root.querySelector('[data-field="computedAt"]').textContent = DATE.format(new Date(stats.computedAt)) + ' UTC';
    renderLatest(stats);
  }

  function chartData(stats) {
    var scale = Math.pow(10, digits);
    var labels = stats.series.points.map(function (p) {
      var d = new Date(p.at);
      return stats.series.bucket === 'hour' ? d.toISOString().slice(11, 16) : d.toISOString().slice(0, 10);
    });
    return {
      labels: labels,
      datasets: [
        { type: 'bar', label: stats.series.bucket === 'hour' ? 'Per hour' : 'Per day', data: stats.series.points.map(function (p) { return p.net / scale; }), backgroundColor: '#8fb3d9', yAxisID: 'y' },
        // A line needs two points: with one day of data, its point is drawn instead.
        { type: 'line', label: 'Running total', data: stats.series.points.map(function (p) { return p.cumulative / scale; }), borderColor: '#1d5d9b', backgroundColor: '#1d5d9b',
          pointRadius: stats.series.points.length < 2 ? 4 : 0, yAxisID: 'y1' },
        // The goal is drawn by goalLine across the whole chart; this dataset gives it its legend entry and its scale.
        { type: 'line', label: 'Goal', data: stats.series.points.map(function () { return stats.series.goal / scale; }), borderColor: '#b5462f', borderDash: [6, 4],
          showLine: false, pointRadius: 0, yAxisID: 'y1' },
      ],
    };
  }

  // The goal as a dashed horizontal line across the chart, however many points there are.
  var goalLine = {
    id: 'goalLine',
    afterDatasetsDraw: function (c) {
      var dataset = c.data.datasets[2];
      if (!dataset || !dataset.data.length) return;
      var y = c.scales.y1.getPixelForValue(dataset.data[0]);
      var area = c.chartArea;
      if (y < area.top || y > area.bottom) return;
      var ctx = c.ctx;
      ctx.save();
      ctx.strokeStyle = dataset.borderColor;
      ctx.lineWidth = 2;
      ctx.setLineDash(dataset.borderDash);
      ctx.beginPath();
      ctx.moveTo(area.left, y);
      ctx.lineTo(area.right, y);
      ctx.stroke();
      ctx.restore();
    },
  };

  function renderChart(stats) {
    if (typeof window.Chart !== 'function') return;
    var data = chartData(stats);
    if (chart) {
      chart.data = data;
      chart.update('none');
      return;
    }
    var box = root.querySelector('.dashboard-chart');
    box.hidden = false;
    var tick = function (value) { return wholeMoneyFormat.format(value); };
    var goal = stats.series.goal / Math.pow(10, digits);
    // Money axes start at 0 with whole-unit ticks (an empty campaign reads $0…$1, not $0.1…$1);
    // the running total's axis reaches at least the goal.
    var moneyAxis = function (extra) {
      return Object.assign({ beginAtZero: true, min: 0, ticks: { callback: tick, precision: 0 } }, extra);
    };
    chart = new window.Chart(document.getElementById('dashboard-chart'), {
      data: data,
      plugins: [goalLine],
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {
          y: moneyAxis({ position: 'left', suggestedMax: 1, title: { display: true, text: data.datasets[0].label + ' (UTC)' } }),
          y1: moneyAxis({ position: 'right', suggestedMax: goal, grid: { drawOnChartArea: false }, title: { display: true, text: 'Running total' } }),
        },
      },
    });
  }

  function load() {
    return fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (res) { if (!res.ok) throw new Error('stats ' + res.status); return res.json(); })
      .then(function (stats) {
        if (!moneyFormat) {
          var currency = stats.campaign.currency.toUpperCase();
          moneyFormat = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency });
          wholeMoneyFormat = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency, minimumFractionDigits: 0 });
          digits = moneyFormat.resolvedOptions().maximumFractionDigits;
        }
        renderFigures(stats);
        renderChart(stats);
      })
      .catch(function () { /* keep the figures shown; the next refresh tries again */ });
  }

  load();
  setInterval(function () { if (!document.hidden) load(); }, REFRESH_MS);
})();
