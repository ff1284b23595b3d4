"""The same join on Apache Spark: Spark SQL generated from the same mapping, giving the same lines as DuckDB.

For a province, where one machine's DuckDB is not enough: `spark_join(spark, mapping, key)` reads
the extracts with Spark, hashes identity numbers with a pandas UDF (the key travels to the
executors inside the function, never into a table or a file) and runs the statements of
`eligibility.discover.join.JoinSql` in Spark's dialect (`SparkSql`). The result is a DataFrame of
`(id, line)`, the line exactly what `eligibility join` writes for that household; write it with
`df.orderBy("id").select("line").write.text(folder)`.

Needs the `spark` and `discover` extras (pyspark, pandas, pyarrow).
"""

from __future__ import annotations

import importlib
from typing import Any

from eligibility.discover.join import JoinSql, csv_header
from eligibility.discover.mapping import Mapping, check_columns
from eligibility.discover.pseudonym import Pseudonymizer

#: strptime directives and their Java (Spark) equivalents, for `date_format:`.
_DATE_CODES = (("%Y", "yyyy"), ("%m", "MM"), ("%d", "dd"), ("%H", "HH"), ("%M", "mm"), ("%S", "ss"))


class SparkSql(JoinSql):
    """The join's statements in Spark SQL's dialect."""

    string = "STRING"

    def lit(self, text: str) -> str:
        # Spark reads backslash escapes in literals, and '' is two literals, not a quote.
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def q(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def jstr(self, expr: str) -> str:
        quoted = f"to_json(array({expr}))"
        return f"CASE WHEN ({expr}) IS NOT NULL THEN substr({quoted}, 2, length({quoted}) - 2) END"

    def regex(self, expr: str, pattern: str) -> str:
        return f"({expr} RLIKE {self.lit('^(?:' + pattern + ')$')})"

    def parse_date(self, expr: str, fmt: str | None) -> str:
        if fmt:
            java = fmt
            for code, pattern in _DATE_CODES:
                java = java.replace(code, pattern)
            return f"date_format(to_date({expr}, {self.lit(java)}), 'yyyy-MM-dd')"
        return f"date_format(to_date({expr}), 'yyyy-MM-dd')"

    def agg_join(self, value: str, order: str | None = None) -> str:
        pairs = f"array_sort(collect_list(struct({order or value} AS k, {value} AS v)))"
        return f"array_join(transform({pairs}, x -> x.v), ',')"

    def agg_join_distinct(self, value: str) -> str:
        return f"array_join(array_sort(collect_set({value})), ',')"


def spark_join(spark: Any, mapping: Mapping, key: bytes) -> Any:
    """Join the mapping's extracts into households with Spark SQL; return a DataFrame of (id, line).

    Args:
        spark: a SparkSession (its `spark.sql.legacy.timeParserPolicy` is set to CORRECTED, so
            that a date that does not parse is NULL, as in DuckDB).
        mapping: a checked mapping (`load_mapping`); its file paths must be readable by the executors.
        key: the pseudonym key.

    Raises:
        MappingError: a column the mapping names is not in its extract.
    """
    functions = importlib.import_module("pyspark.sql.functions")
    pseudo = Pseudonymizer(key)
    sql = SparkSql(mapping)
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "CORRECTED")
    # The generated plans are long (a CASE a mapped column); their text is only for the UI and logs.
    spark.conf.set("spark.sql.maxPlanStringLength", "65536")
    columns = {}
    for i, x in enumerate(mapping.extracts):
        files = [str(p) for p in x.files]
        if x.format == "csv":  # every column as text, named by the header (no job to infer a schema)
            schema = ", ".join(f"{sql.q(c)} STRING" for c in csv_header(x.files[0]))
            df = spark.read.option("header", True).schema(schema).csv(files)
        else:
            df = spark.read.parquet(*files)
        df.createOrReplaceTempView(f"x{i}")
        columns[x.name] = list(df.columns)
    check_columns(mapping, columns)
    spark.sql(sql.ext_query()).createOrReplaceTempView("ext")

    person, household = pseudo.person, pseudo.household

    def persons(raws: Any) -> Any:
        return raws.map(person)

    def households(raws: Any) -> Any:
        return raws.map(household)

    series = importlib.import_module("pandas").Series
    for fn in (persons, households):  # pandas_udf reads the kind of UDF from the annotations
        fn.__annotations__ = {"raws": series, "return": series}
    to_pid = functions.pandas_udf(persons, "string")
    to_hid = functions.pandas_udf(households, "string")
    spark.sql(sql.ids_query()).withColumn("pid", to_pid("raw")).cache().createOrReplaceTempView("pid_map")
    spark.sql(sql.households_query()).withColumn("hid", to_hid("raw")).cache().createOrReplaceTempView("hid_map")
    for i, x in enumerate(mapping.extracts):
        spark.sql(sql.rows(i, x)).createOrReplaceTempView(f"r{i}")
    long = {name for name, _ in sql.long_tables()} | {"s_mfh", "s_mfg", "s_hfg"}
    for name, select in [*sql.long_tables(), *sql.assembly("TRUE")]:
        df = spark.sql(select)
        (df.cache() if name in long else df).createOrReplaceTempView(name)  # read by several statements
    return spark.table("s_lines")
