"""One launch description for a trtpipe node: its topics as remappable launch arguments and a
few parameters as overrides (empty: the node's default). The launch files are one call each."""

from collections.abc import Callable, Mapping

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node


def node_launch(
    executable: str,
    topics: Mapping[str, str],
    overrides: Mapping[str, Callable[[str], object]],
    lifecycle: bool = False,
) -> LaunchDescription:
    """``topics``: launch argument -> the node's topic it remaps. ``overrides``: parameter ->
    the type its launch argument is read as."""

    def node(context: LaunchContext) -> list:
        def arg(name: str) -> str:
            return LaunchConfiguration(name).perform(context)

        given = {name: kind(arg(name)) for name, kind in overrides.items() if arg(name)}
        kind = LifecycleNode if lifecycle else Node
        return [
            kind(
                package="trtpipe_ros",
                executable=executable,
                name=executable,
                namespace=arg("namespace"),
                output="screen",
                parameters=[given],
                remappings=[(topic, arg(name)) for name, topic in topics.items()],
            )
        ]

    return LaunchDescription(
        [
            *(DeclareLaunchArgument(name, default_value=topic) for name, topic in topics.items()),
            DeclareLaunchArgument("namespace", default_value=""),
            *(
                DeclareLaunchArgument(name, default_value="", description="'': the node's default")
                for name in overrides
            ),
            OpaqueFunction(function=node),
        ]
    )
